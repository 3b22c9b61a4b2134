/**
 * The app server for the NAT-lab setup bench: what `npm start` runs (STUN responder on UDP 3478,
 * HTTP + signaling on 8080, every interface), except that the page comes from `STATIC_DIR`, the
 * bench's own build, so a concurrent `npm run build` of dist/web cannot pull it away mid-run.
 * Prints `listening 8080` once both are up.
 */
import { createSignalingServer } from '../../signaling/server.ts';
import { startStunResponder } from '../../signaling/stun.ts';

const STUN_PORT = 3478;
const PORT = 8080;

const stun = await startStunResponder({ host: '0.0.0.0', port: STUN_PORT });
const server = createSignalingServer({
  stunPort: STUN_PORT,
  iceServers: null,
  ...(process.env.STATIC_DIR ? { staticDir: process.env.STATIC_DIR } : {}),
});
await server.listen(PORT, '0.0.0.0');
console.log(`listening ${PORT}`);
const stop = (): void => {
  void Promise.all([server.close(), stun.close()]).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
