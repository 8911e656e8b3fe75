// Batched stderr: many lines, one write per loop turn, none lost on exit or crash.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (body: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { batchedStderr } from './src/node/log-writer.ts'; const log = batchedStderr(); ${body}`], {
    cwd: root,
    encoding: 'utf8',
  });

it('writes every line, in order, across turns', () => {
  const { stderr, status } = run(`for (let i = 0; i < 500; i++) log('a' + i); setTimeout(() => { log('b'); }, 10);`);
  expect(status).toBe(0);
  expect(stderr.trimEnd().split('\n')).toEqual([...Array.from({ length: 500 }, (_, i) => `a${i}`), 'b']);
});

it('writes what is pending when the process exits or crashes in the same turn', () => {
  expect(run(`log('before exit'); process.exit(3);`)).toMatchObject({ status: 3, stderr: 'before exit\n' });
  const crashed = run(`log('before crash'); throw new Error('boom');`);
  expect(crashed.status).toBe(1);
  expect(crashed.stderr).toContain('before crash\n');
});
