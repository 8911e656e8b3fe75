// The Worker as wrangler builds and serves it. `npm run dev:worker` as a developer runs it: applies the migrations to the local D1 and serves
// the Worker with wrangler (port 8788 by default, beside the Node server's 8787); here on a free port, with a state folder of its own,
// and the dashboard in Debian's Chromium against it.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadAppleSamples } from './support/app.js';
import { launchChromium, pageReady, signIn, watchedPage } from './support/browser.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEV_ADMIN = 'dev-worker-admin-key-0123456789';

/** A port nothing listens on now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

const TOOL_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: '1' };

/**
 * `npm run <script>` as a developer runs it, on a free port with a state folder of its own and a
 * bootstrap admin key (a deployment sets it with `wrangler secret put`); `use` gets its origin once
 * /healthz answers. Stopped and its state removed afterwards.
 */
async function withDevWorker(script: string, use: (base: string, state: string) => Promise<void>, startSeconds = 60): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'skanpost-dev-state-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn('npm', ['run', script, '--silent', '--', '--var', `SKANPOST_ADMIN_KEY:${DEV_ADMIN}`], {
    cwd: root,
    env: { ...process.env, SKANPOST_DEV_STATE: state, SKANPOST_DEV_PORT: String(port), ...TOOL_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let logs = '';
  child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    // Bounded: wrangler starts workerd in a few seconds here (the scale environment first applies
    // every migration to each of its four databases, one wrangler run each).
    let healthy = false;
    for (let i = 0; i < startSeconds * 2 && !healthy; i++) {
      await new Promise((r) => setTimeout(r, 500));
      healthy = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    }
    expect(healthy, logs).toBe(true);
    await use(base, state);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
    rmSync(state, { recursive: true, force: true });
  }
}

it('serves the Worker on 127.0.0.1, ingests an Apple postback, and shows it in the dashboard', async () => {
  await withDevWorker('dev:worker', async (base) => {
    const sample = (await loadAppleSamples()).find((s) => s.expect === 'verified')!;
    const post = () => fetch(`${base}/.well-known/skadnetwork/report-attribution/`, { method: 'POST', body: JSON.stringify(sample.body) });
    const first = await post();
    expect(first.status).toBe(200);
    // Built with its security headers on the Worker too.
    expect([first.headers.get('content-type'), first.headers.get('x-content-type-options'), first.headers.get('x-frame-options')]).toEqual([
      'application/json',
      'nosniff',
      'SAMEORIGIN',
    ]);
    // A state folder of its own: the database starts empty, so the first copy is stored.
    expect(await first.json()).toMatchObject({ signature: 'verified', outcome: 'stored' });
    expect(await (await post()).json()).toMatchObject({ outcome: 'duplicate' });

    // The dashboard as a person sees it from the Worker: scripts from its static assets, the
    // figure ingested above drawn from D1, nothing from another origin, no console error.
    const browser = await launchChromium();
    try {
      const problems: string[] = [];
      const page = await watchedPage(browser, base, problems);
      await signIn(page, base, DEV_ADMIN);
      await pageReady(page);
      expect(await page.locator('[data-total="postbacks"]').textContent()).toBe('1');
      const plotted = await page.evaluate(() => {
        const chart = (window as unknown as { skanpostCharts: { overview: { data: Array<Array<number | null>> } } }).skanpostCharts.overview;
        return chart.data[1]!.map((v, i) => v ?? chart.data[2]![i] ?? 0).reduce((s, v) => s + v, 0);
      });
      expect(plotted).toBe(1);
      // The time zone moves the day: UTC+14 has it on that zone's date.
      await page.getByLabel('Time zone').fill('Pacific/Kiritimati');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.waitForURL(/tz=Pacific%2FKiritimati/);
      await pageReady(page);
      const shownDays = await page
        .locator('#days tbody tr')
        .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)).filter((r) => r[1] !== '0'));
      expect(shownDays.map((r) => r[0])).toEqual([new Intl.DateTimeFormat('en-CA', { timeZone: 'Pacific/Kiritimati' }).format(new Date())]);
      // The campaign table's CSV is the API's, byte for byte.
      await page.goto(`${base}/dashboard/campaigns?days=7`);
      await pageReady(page);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
      const csvPath = new URL((await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href'))!, base);
      const fromApi = Buffer.from(await (await fetch(`${base}/v1/reports/campaigns${csvPath.search}`, { headers: { authorization: `Bearer ${DEV_ADMIN}` } })).arrayBuffer());
      expect(readFileSync((await download.path())!).equals(fromApi)).toBe(true);
      // A key scoped to another app sees nothing of this one; signing out ends the session.
      const scoped = (await (
        await fetch(`${base}/v1/keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEV_ADMIN}` },
          body: JSON.stringify({ name: 'other', role: 'analyst', app_ids: [1] }),
        })
      ).json()) as { secret: string };
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/dashboard\/sign-in$/);
      await signIn(page, base, scoped.secret);
      await pageReady(page);
      expect(await page.locator('[data-total="postbacks"]').textContent()).toBe('0');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
}, 90_000);

it('serves [env.scale] with `npm run dev:worker:scale`: queued at the edge, written by the consumer on a shard, DB holding the map', async () => {
  await withDevWorker(
    'dev:worker:scale',
    async (base, state) => {
      const admin = { authorization: `Bearer ${DEV_ADMIN}` };
      const sample = (await loadAppleSamples()).find((s) => s.expect === 'verified')!;
      const posted = await fetch(`${base}/.well-known/skadnetwork/report-attribution/`, { method: 'POST', body: JSON.stringify(sample.body) });
      expect(posted.status).toBe(200);
      expect(await posted.json()).toEqual({ id: null, outcome: 'queued', signature: 'verified', reasons: [] });
      // The local queue hands it to the consumer within its batch timeout (bounded wait).
      let listed: Array<{ id: number; app_id: number }> = [];
      for (let i = 0; i < 60 && listed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        listed = ((await (await fetch(`${base}/v1/postbacks`, { headers: admin })).json()) as { postbacks: typeof listed }).postbacks;
      }
      expect(listed.map((p) => p.app_id)).toEqual([(sample.body as { 'app-id': number })['app-id']]);
      expect(((await (await fetch(`${base}/v1/queue/dead-letters`, { headers: admin })).json()) as { dead_letters: unknown[] }).dead_letters).toEqual([]);
      // The first app goes to SHARD_0; DB keeps the map and no postback.
      const count = (binding: string, query: string) =>
        JSON.parse(
          execFileSync('npx', ['wrangler', 'd1', 'execute', binding, '--env', 'scale', '--local', '--persist-to', state, '--json', '--command', query], {
            cwd: root,
            env: { ...process.env, ...TOOL_ENV },
            encoding: 'utf8',
            timeout: 60_000,
          }),
        )[0].results[0].n;
      expect(count('SHARD_0', 'select count(*) as n from postbacks')).toBe(1);
      expect(count('DB', 'select count(*) as n from postbacks')).toBe(0);
      expect(count('DB', 'select count(*) as n from app_shards where shard = 0')).toBe(1);
    },
    180,
  );
}, 240_000);

it('bundles the Worker with wrangler, without Node-only modules or sqlite code', () => {
  const out = mkdtempSync(join(tmpdir(), 'skanpost-bundle-'));
  try {
    execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], { cwd: root, env: { ...process.env, ...TOOL_ENV }, stdio: 'pipe', timeout: 60_000 });
    const bundle = readFileSync(join(out, 'index.js'), 'utf8');
    expect(bundle).toContain('report-attribution');
    expect(bundle.match(/from\s*["']node:[^"']+["']|require\(["'](fs|path|better-sqlite3)["']\)|better_sqlite3\.node/g)).toBeNull();
    // The Worker chooses D1's write unit; better-sqlite3's is never bundled with it.
    expect(bundle).toMatch(/\bD1Unit = class\b|class D1Unit\b/);
    expect(bundle).not.toContain('SqliteUnit');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 90_000);

it('bundles [env.scale] with its queues and shards', () => {
  const out = mkdtempSync(join(tmpdir(), 'skanpost-bundle-scale-'));
  try {
    const printed = execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--env', 'scale', '--outdir', out], {
      cwd: root,
      env: { ...process.env, ...TOOL_ENV },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // wrangler lists the bindings the environment has: every shard, both producers, queue mode.
    for (const binding of ['env.DB', 'env.SHARD_0', 'env.SHARD_1', 'env.SHARD_2', 'env.INGEST_QUEUE_0', 'env.INGEST_QUEUE_1', 'SKANPOST_INGEST_MODE'])
      expect(printed).toContain(binding);
    expect(readFileSync(join(out, 'index.js'), 'utf8')).toContain('report-attribution');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 90_000);
