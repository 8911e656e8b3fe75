// The reference stays complete: every error reason and every metric the code can produce is
// documented, and nothing documented is gone from the code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { PROBLEM_REASONS } from '../src/http/problem.js';
import { INGEST_REJECT_REASONS, MMP_REFUSE_REASONS } from '../src/observability/metrics.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const docsDir = join(root, 'docs');
const docs = [
  join(root, 'README.md'),
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(docsDir, f)),
]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');
const source = (dir: string): string =>
  readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? source(join(dir, e.name)) : e.name.endsWith('.ts') ? readFileSync(join(dir, e.name), 'utf8') : ''))
    .join('\n');
const code = source(join(root, 'src'));

/** The first column of the markdown table that follows `heading`, as written in backticks. */
function tableAfter(heading: string): string[] {
  const start = docs.indexOf(heading);
  expect(start, `a section "${heading}" in README.md or docs/`).toBeGreaterThanOrEqual(0);
  const lines = docs.slice(start).split('\n').slice(1);
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  return table
    .slice(
      0,
      table.findIndex((l) => !l.startsWith('|')),
    )
    .slice(2)
    .map((l) => /^\|\s*`([^`]+)`/.exec(l)?.[1] ?? '');
}

it('documents every error reason, and each documented one is used', () => {
  expect(tableAfter('### Error reasons').sort()).toEqual([...PROBLEM_REASONS].sort());
  const problemFile = readFileSync(join(root, 'src/http/problem.ts'), 'utf8');
  for (const reason of PROBLEM_REASONS) expect(code.replace(problemFile, ''), reason).toContain(`'${reason}'`);
});

it('documents every metric and every reason an ingest or an MMP postback is refused for', () => {
  // The dashboard's cookie is named like a metric, and is none.
  const names = new Set(
    [...code.matchAll(/'(skanpost_[a-z_]+)'|\b(skanpost_[a-z0-9_]+) /g)].map((m) => (m[1] ?? m[2])!.replace(/_(bucket|sum|count)$/, '')).filter((n) => n !== 'skanpost_session'),
  );
  const documented = new Set(tableAfter('### Metrics').map((m) => m.replace(/\{.*$/, '')));
  expect([...names].sort()).toEqual([...documented].sort());
  expect(tableAfter('### Ingest refusals').sort()).toEqual([...INGEST_REJECT_REASONS].sort());
  expect(tableAfter('### MMP refusals').sort()).toEqual([...MMP_REFUSE_REASONS].sort());
});
