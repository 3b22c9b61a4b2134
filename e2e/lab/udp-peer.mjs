// One UDP socket (plus TCP connects) driven over stdio by e2e/lab/probes.ts, one JSON object per
// line each way, so a test in the root namespace can act as a peer inside a lab namespace.
//   in:  {"op":"send","ip","port","text"}  {"op":"tcp","id","ip","port","timeoutMs"}
//   out: {"event":"ready","port"}  {"event":"message","ip","port","text"}
//        {"event":"tcp","id","ok","reply"|"error"}  {"event":"error","message"}
//   node udp-peer.mjs --port 40000 --family 6   (port 0 or absent: any free port; family 4 or 6,
//   default 4: a udp4 socket on 0.0.0.0, or a udp6 one on :: that takes IPv6 only, so an address
//   is never an IPv4-mapped ::ffff:… one). TCP connects go to whatever family `ip` is.
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, family: { type: 'string', default: '4' } },
});
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const ipv6 = values.family === '6';
if (values.family !== '4' && !ipv6) {
  emit({ event: 'error', message: `--family must be 4 or 6, got ${values.family}` });
  process.exit(1);
}

const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 });
socket.on('error', (err) => {
  emit({ event: 'error', message: err.message });
  process.exit(1);
});
socket.on('message', (msg, from) => {
  emit({ event: 'message', ip: from.address, port: from.port, text: msg.toString('utf8') });
});
socket.bind(Number(values.port), ipv6 ? '::' : '0.0.0.0', () => {
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
