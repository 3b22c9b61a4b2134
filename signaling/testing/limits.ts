/** Test fixture: the limits a default server sends in `hello` (the defaults of `SETTINGS` in signaling/config.ts). */
import type { ServerLimits } from '../protocol.ts';

export const EXAMPLE_LIMITS: ServerLimits = {
  maxFrameBytes: 65536,
  roomSize: 8,
  rateMessagesPerS: 20,
  rateBurst: 200,
  rateBytesPerS: 32768,
  rateBytesBurst: 262144,
  maxFileBytes: 2 * 1024 * 1024 * 1024,
};
