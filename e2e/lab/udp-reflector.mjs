// Tells every sender the source address it was seen from, like a STUN Binding response
// (RFC 8489 §14.2 XOR-MAPPED-ADDRESS) minus the framing: the reply is `{"ip":…,"port":…}`.
// Over UDP it answers each datagram; over TCP it writes one line to each connection and closes.
// Driven by e2e/lab/probes.ts: prints `{"event":"ready"}` once every socket is bound.
//   node udp-reflector.mjs --udp 3478,3479 --tcp 3478 --family 6
// Family 4 (the default) binds 0.0.0.0, family 6 binds :: for IPv6 only, so one reflector of each
// family can share a port and every address it reports is plain IPv4 or plain IPv6.
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    udp: { type: 'string', default: '' },
    tcp: { type: 'string', default: '' },
    family: { type: 'string', default: '4' },
  },
});
const ipv6 = values.family === '6';
const any = ipv6 ? '::' : '0.0.0.0';
const ports = (list) => list.split(',').filter(Boolean).map(Number);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const fail = (err) => {
  emit({ event: 'error', message: err.message });
  process.exit(1);
};
if (values.family !== '4' && !ipv6)
  fail(new Error(`--family must be 4 or 6, got ${values.family}`));

const bound = [];
for (const port of ports(values.udp)) {
  const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 });
  socket.on('error', fail);
  socket.on('message', (_msg, from) => {
    socket.send(JSON.stringify({ ip: from.address, port: from.port }), from.port, from.address);
  });
  bound.push(new Promise((resolve) => socket.bind(port, any, resolve)));
}
for (const port of ports(values.tcp)) {
  const server = net.createServer((conn) => {
    conn.on('error', () => {});
    conn.end(`${JSON.stringify({ ip: conn.remoteAddress, port: conn.remotePort })}\n`);
  });
  server.on('error', fail);
  bound.push(new Promise((resolve) => server.listen({ port, host: any, ipv6Only: ipv6 }, resolve)));
}
await Promise.all(bound);
emit({ event: 'ready' });
