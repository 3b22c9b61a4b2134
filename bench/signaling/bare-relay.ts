/**
 * The baseline of the signaling load bench: the least a `ws` relay for two-person rooms does. The
 * room is in the URL (`/?room=…`) and every frame goes verbatim to the other socket of the room:
 * no ids, no validation, no JSON. What our server costs beyond this is the price of the protocol.
 * Env `PORT` (default 0); prints `listening <port>` once bound to 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
wss.on('connection', (socket, req) => {
  socket.on('error', () => socket.terminate());
  const room = new URL(req.url ?? '/', 'http://relay').searchParams.get('room') ?? '';
  const members = rooms.get(room) ?? new Set<WebSocket>();
  rooms.set(room, members.add(socket));
  socket.on('message', (data, isBinary) => {
    for (const other of members) if (other !== socket) other.send(data, { binary: isBinary });
  });
  socket.on('close', () => {
    members.delete(socket);
    if (members.size === 0) rooms.delete(room);
  });
});
wss.on('listening', () => console.log(`listening ${(wss.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0)); // a normal exit: `--cpu-prof` writes its profile
