/**
 * The process's last line of defence (issue #9). Every socket and frame handler in `server.ts`
 * catches what it throws itself and closes only that socket (1011); this is for whatever still
 * escapes (a library callback, a timer): Node's default is to print and exit, which drops every
 * room on the server for one bad input. Here it is logged, counted and the process keeps serving.
 *
 * The usual advice is to exit after an uncaught exception because state may be inconsistent. Our
 * state is per socket and per room, each handler leaves it consistent before anything can throw,
 * and a restart would lose every room at once; so we keep serving, and say so loudly in the log.
 */
import type { Logger } from './log.ts';

/** What {@link installLastResort} needs of `process` (a parameter, so tests can pass their own). */
export interface ProcessEvents {
  on(event: 'uncaughtException', listener: (error: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
}

/**
 * Logs uncaught exceptions and unhandled rejections at `error` (with the stack) instead of letting
 * them end the process. Returns how many it has caught so far, for tests and metrics.
 */
export function installLastResort(target: ProcessEvents, logger: Logger): () => number {
  let caught = 0;
  target.on('uncaughtException', (error: Error) => {
    caught++;
    logger.error({ err: error }, 'uncaught exception; still serving');
  });
  target.on('unhandledRejection', (reason: unknown) => {
    caught++;
    logger.error({ err: reason }, 'unhandled rejection; still serving');
  });
  return () => caught;
}
