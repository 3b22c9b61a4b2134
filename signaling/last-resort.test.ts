import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const MODULE = fileURLToPath(new URL('./last-resort.ts', import.meta.url));

/** Runs `script` (ES module source) in a fresh Node process; resolves with its exit and output. */
function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, ['--eval', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A process that throws from a timer and rejects a promise, then says whether it lived on. */
const throwingProcess = (install: boolean) => `
  import { pino } from 'pino';
  import { installLastResort } from ${JSON.stringify(MODULE)};
  const caught = ${install} ? installLastResort(process, pino()) : () => 0;
  setTimeout(() => { throw new Error('a handler threw'); }, 10);
  setTimeout(() => { void Promise.reject(new Error('a promise rejected')); }, 20);
  setTimeout(() => { console.log('still serving after ' + caught()); process.exit(0); }, 200);
`;

it('keeps the process serving after an uncaught exception and an unhandled rejection, logged', async () => {
  const { code, stdout } = await run(throwingProcess(true));
  expect(code).toBe(0);
  expect(stdout).toContain('still serving after 2');
  const logged = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } });
  expect(logged.map(({ level, msg, err }) => [level, msg, err?.message])).toEqual([
    [50, 'uncaught exception; still serving', 'a handler threw'],
    [50, 'unhandled rejection; still serving', 'a promise rejected'],
  ]);
}, 30_000);

it('without it, the same process dies (so the test above can fail)', async () => {
  const { code, stderr } = await run(throwingProcess(false));
  expect(code).not.toBe(0);
  expect(stderr).toContain('a handler threw');
}, 30_000);
