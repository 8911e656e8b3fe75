// The Worker as wrangler builds and serves it. `npm run dev:worker` as a developer runs it: applies the migrations to the local D1 and serves
// the Worker with wrangler on port 8788, beside the Node server's 8787.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadAppleSamples } from './support/app.js';

const root = fileURLToPath(new URL('..', import.meta.url));

it('serves the Worker on 127.0.0.1:8788 and ingests an Apple postback', async () => {
  const child = spawn('npm', ['run', 'dev:worker', '--silent'], {
    cwd: root,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let logs = '';
  child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    // Bounded: wrangler starts workerd in a few seconds here.
    let healthy = false;
    for (let i = 0; i < 120 && !healthy; i++) {
      await new Promise((r) => setTimeout(r, 500));
      healthy = await fetch('http://127.0.0.1:8788/healthz').then((r) => r.ok, () => false);
    }
    expect(healthy, logs).toBe(true);
    const sample = (await loadAppleSamples()).find((s) => s.expect === 'verified')!;
    const response = await fetch('http://127.0.0.1:8788/.well-known/skadnetwork/report-attribution/', { method: 'POST', body: JSON.stringify(sample.body) });
    expect(response.status).toBe(200);
    // The local database outlives runs (.wrangler/state), so a second run sees a duplicate.
    expect(await response.json()).toMatchObject({ signature: 'verified', outcome: expect.stringMatching(/^(stored|duplicate)$/) });
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }
}, 90_000);

it('bundles the Worker with wrangler, without Node-only modules', () => {
  const out = mkdtempSync(join(tmpdir(), 'skanpost-bundle-'));
  try {
    execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], {
      cwd: root,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: '1' },
      stdio: 'pipe',
      timeout: 60_000,
    });
    const bundle = readFileSync(join(out, 'index.js'), 'utf8');
    expect(bundle).toContain('report-attribution');
    expect(bundle.match(/from\s*["']node:[^"']+["']|require\(["'](fs|path|better-sqlite3)["']\)|better_sqlite3\.node/g)).toBeNull();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 90_000);
