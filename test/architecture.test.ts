// What the layering rules cannot say: the version the API reports is the package's. (Imports —
// Node only in src/node, db/ at the bottom, no cycles — are Biome's rules: `npm run lint`.)
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('src/version.ts says the version package.json says', async () => {
  const { VERSION } = await import('../src/version.js');
  expect(VERSION).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
});
