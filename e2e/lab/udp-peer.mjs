// One UDP socket (plus TCP connects) driven over stdio by e2e/lab/probes.ts, one JSON object per
// line each way, so a test in the root namespace can act as a peer inside a lab namespace.
//   in:  {"op":"send","ip","port","text"}  {"op":"tcp","id","ip","port","timeoutMs"}
//   out: {"event":"ready","port"}  {"event":"message","ip","port","text"}
//        {"event":"tcp","id","ok","reply"|"error"}  {"event":"error","message"}
//   node udp-peer.mjs --port 40000   (0 or absent: any free port)
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const socket = dgram.createSocket('udp4');
socket.on('error', (err) => {
  emit({ event: 'error', message: err.message });
  process.exit(1);
});
socket.on('message', (msg, from) => {
  emit({ event: 'message', ip: from.address, port: from.port, text: msg.toString('utf8') });
});
socket.bind(Number(values.port), '0.0.0.0', () => {
  emit({ event: 'ready', port: socket.address().port });
});

function tcp({ id, ip, port, timeoutMs }) {
  let reply = '';
  const conn = net.connect({ host: ip, port });
  const done = (result) => {
    conn.destroy();
    emit({ event: 'tcp', id, ...result });
  };
  conn.setTimeout(timeoutMs, () => done({ ok: false, error: 'timeout' }));
  conn.on('error', (err) => done({ ok: false, error: err.code ?? err.message }));
  conn.setEncoding('utf8');
  conn.on('data', (chunk) => (reply += chunk));
  conn.on('end', () => done({ ok: true, reply }));
}

readline
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    let op;
    try {
      op = JSON.parse(line);
    } catch {
      return emit({ event: 'error', message: `not JSON: ${line}` });
    }
    if (op.op === 'send') {
      socket.send(op.text, op.port, op.ip, (err) => {
        // e.g. ENETUNREACH; with DROP rules there is no ICMP, so silence is the usual failure.
        if (err) emit({ event: 'error', message: err.message });
      });
    } else if (op.op === 'tcp') {
      tcp(op);
    } else {
      emit({ event: 'error', message: `unknown op: ${line}` });
    }
  })
  .on('close', () => process.exit(0));
