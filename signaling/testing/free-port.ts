/**
 * A loopback port nothing listens on right now, for tests and benchmarks that start servers of
 * their own: the kernel's pick, released at once (a race we accept on a test machine).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A free TCP (default) or UDP port on 127.0.0.1. */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
