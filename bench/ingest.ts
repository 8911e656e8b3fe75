// `npm run bench`: skanpost's durable ingest against a naive baseline server (verify only, nothing
// kept), a naive durable peer (verify, then one synchronous=FULL transaction per request) and the
// group-commit floor (verify, then the row and its rollup by bare statements on a thread, committed
// in groups: the least skanpost's guarantees cost), alternating A B C D in one run on this machine,
// driven by autocannon with unique pre-signed SKAN 4.0 postbacks. Prints req/s at saturation, p50/p99, errors, peak RSS, server CPU per request (main
// thread and the others, from /proc), the ratios, p99 at 60 % of the baseline's saturated rate, and the same
// with duplicates, invalid signatures and forwarding. Then the MMP side: `/c` redirects against
// the baseline's bare redirect (A B A B), and MMP postbacks answered durably. `--only ingest|mmp`
// runs one half; `--warmup S` (default 3) seconds of load precede every measured window, uncounted.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { mintClickId } from '../src/mmp/click-id.js';
import { commitCounts } from './commits.js';
import { madeSoFar, SPKI, signedPostbacks } from './signed-postbacks.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'all' },
  },
});
if (!['all', 'ingest', 'mmp'].includes(values.only)) throw new Error('--only must be ingest or mmp');
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
// Seconds of the same load before each measured window, not counted: a long-running server's cost
// is its steady state, and a fresh process spends its first seconds compiling its hot code (for
// skanpost ~2 s of TurboFan over the first 10 s, measured with --trace-opt).
const WARMUP = Number(values.warmup);
const PATH = '/.well-known/skadnetwork/report-attribution/';
const ADMIN = 'bench-admin-key-0123456789';
const CLICK_SECRET = 'bench-click-secret-0123456789-0123456789';

let servers = 0;

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

// skanpost exactly as `npm start` runs it: the same bundle and node flags, built first.
const START = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
const SKANPOST_ARGS = START.replace(/^exec node /, '').split(' ');
execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });

type Kind = 'baseline' | 'skanpost' | 'naive' | 'floor';
const PEERS: Record<Exclude<Kind, 'skanpost'>, string> = {
  baseline: 'bench/baseline-server.ts',
  naive: 'bench/naive-durable-server.ts',
  floor: 'bench/floor-durable-server.ts',
};

async function start(kind: Kind, dir: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  const args = kind === 'skanpost' ? SKANPOST_ARGS : ['--import', 'tsx', PEERS[kind]];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      PORT: '0',
      BENCH_KEY: SPKI,
      SKANPOST_EXTRA_KEYS: SPKI,
      SKANPOST_DB: join(dir, `${kind}-${madeSoFar()}-${++servers}.db`),
      SKANPOST_ADMIN_KEY: ADMIN,
      SKANPOST_CLICK_SECRET: CLICK_SECRET,
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  if (extraEnv.PORT) {
    // A quiet server does not log that it listens: poll until it answers.
    child.stderr!.resume();
    for (let i = 0; i < 200; i++) {
      if (
        await fetch(`http://127.0.0.1:${extraEnv.PORT}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const port = extraEnv.PORT
    ? Number(extraEnv.PORT)
    : await new Promise<number>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          logs += chunk.toString();
          const match = /"message":"skanpost listening","port":(\d+)/.exec(logs);
          if (match) {
            // The request log goes on at info level, as in production: read and drop it.
            child.stderr!.off('data', onData);
            child.stderr!.resume();
            resolve(Number(match[1]));
          }
        };
        child.stderr!.on('data', onData);
        child.on('exit', (code) => reject(new Error(`${kind} exited with ${code}: ${logs}`)));
      });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** CPU time used so far (user + system, in clock ticks of 10 ms) by the main thread and by all others. */
function cpuTicks(pid: number): { main: number; others: number; byThread: Map<string, number> } {
  const ticks = { main: 0, others: 0, byThread: new Map<string, number>() };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const used = Number(fields[11]) + Number(fields[12]);
      ticks[tid === String(pid) ? 'main' : 'others'] += used;
      // Each thread (Node names them all "node"): the busiest are the ingest thread, libuv's pool, V8's helpers.
      ticks.byThread.set(tid, used);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ticks;
}

/** µs per request of each thread other than main that used any, busiest first ("370 40 12"). */
function threadShares(pid: number, before: ReturnType<typeof cpuTicks>, after: ReturnType<typeof cpuTicks>, perRequest: (ticks: number) => number): string {
  return [...after.byThread]
    .filter(([tid]) => tid !== String(pid))
    .map(([tid, ticks]) => perRequest(ticks - (before.byThread.get(tid) ?? 0)))
    .filter((us) => us >= 1)
    .sort((a, b) => b - a)
    .map((us) => us.toFixed(0))
    .join(' ');
}

/** The writer's units and commits so far (skanpost's /metrics), or nothing from a peer. */
async function commits(url: string): Promise<{ units: number; commits: number } | undefined> {
  const r = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN}` } }).catch(() => undefined);
  return r?.ok ? commitCounts(await r.text()) : undefined;
}

async function load(url: string, bodies: string[], pid: number, rate?: number) {
  let next = 0;
  const run = (duration: number) =>
    autocannon({
      url: `${url}${PATH}`,
      connections: 64,
      duration,
      ...(rate ? { overallRate: rate } : {}),
      requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
    });
  if (WARMUP > 0) await run(WARMUP);
  const committed = await commits(url);
  const before = cpuTicks(pid);
  const result = await run(DURATION);
  const after = cpuTicks(pid);
  // Server CPU per answered request, in µs: where the time goes when the machine is saturated.
  const perRequest = (ticks: number) => (ticks * 10_000) / Math.max(1, result.requests.total);
  const cpu = { main: perRequest(after.main - before.main), others: perRequest(after.others - before.others), threads: threadShares(pid, before, after, perRequest) };
  // Units per commit over the window: a commit's WAL writes and fsync are shared by its units.
  const later = committed && (await commits(url));
  const perCommit = committed && later ? (later.units - committed.units) / Math.max(1, later.commits - committed.commits) : undefined;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts, sent: next, cpu, perCommit };
}

/** GET requests over `paths` in turn; counts 3xx as answered (a click is a 302). */
async function loadGet(url: string, paths: string[], pid: number) {
  let next = 0;
  const run = (duration: number) =>
    autocannon({ url, connections: 64, duration, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length]! }) }] });
  const warmup = WARMUP > 0 ? await run(WARMUP) : undefined;
  const before = cpuTicks(pid);
  const result = await run(DURATION);
  const after = cpuTicks(pid);
  const perRequest = (ticks: number) => (ticks * 10_000) / Math.max(1, result.requests.total);
  // Every answer, the warm-up's too: what the server stored is compared with them.
  const answered: Record<string, number> = {};
  for (const stats of [warmup?.statusCodeStats, result.statusCodeStats]) {
    for (const [status, count] of Object.entries(stats ?? {})) answered[status] = (answered[status] ?? 0) + (count.count ?? 0);
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors:
      result.errors +
      result.timeouts +
      Object.entries(answered)
        .filter(([s]) => !/^[23]/.test(s))
        .reduce((n, [, c]) => n + c, 0),
    answered,
    cpu: { main: perRequest(after.main - before.main), others: perRequest(after.others - before.others) },
  };
}

const api = async (url: string, path: string, body: unknown) => {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as Record<string, unknown>;
};

/** Today's MMP totals: one row without group_by. */
async function mmpTotals(url: string): Promise<{ clicks: number; installs: number } | undefined> {
  const day = new Date().toISOString().slice(0, 10);
  const r = await fetch(`${url}/v1/reports/mmp?from=${day}&to=${day}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return r.ok ? ((await r.json()) as { rows: Array<{ clicks: number; installs: number }> }).rows[0] : undefined;
}

/** A partner and a link on a fresh server: what clicks and MMP postbacks need. */
async function mmpSetup(url: string): Promise<{ token: string; partnerId: number; linkId: number }> {
  const partner = await api(url, '/v1/mmp-partners', { name: 'bench MMP', preset: 'custom' });
  const link = await api(url, '/v1/links', {
    name: 'bench link',
    app_id: 1_000_001,
    ad_network_id: 'bench.skadnetwork',
    network_campaign_id: 'bench-1',
    mmp_partner_id: partner.id,
    target_url: 'https://mmp.example/click?clickid={click_id}&c={campaign_name}&s1={sub1}&ts={timestamp}',
  });
  return { token: partner.token as string, partnerId: partner.id as number, linkId: link.id as number };
}

async function mmpBench(dir: string) {
  console.log("\nMMP: /c redirects (skanpost: link read, click ID signed, click written after the answer) against the baseline's bare redirect");
  const clicks: Record<'baseline' | 'skanpost', number[]> = { baseline: [], skanpost: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['baseline', 'skanpost'] as const) {
      const server = await start(kind, dir);
      const linkId = kind === 'skanpost' ? (await mmpSetup(server.url)).linkId : 1;
      const paths = Array.from({ length: 1000 }, (_, i) => `/c/${linkId}?sub1=pub-${i % 50}`);
      const result = await loadGet(server.url, paths, server.child.pid!);
      const rss = peakRssMb(server.child.pid!);
      let kept = '';
      if (kind === 'skanpost') {
        await new Promise((resolve) => setTimeout(resolve, 500)); // the last batch of clicks
        kept = `  clicks in the report ${(await mmpTotals(server.url))?.clicks} of ${result.answered['302'] ?? 0} redirects`;
      }
      await server.stop();
      clicks[kind].push(result.rps);
      console.log(`round ${round + 1} ${kind.padEnd(8)} ${fmt(result, rss)}${kept}`);
    }
  }
  const base = median(clicks.baseline);
  const ours = median(clicks.skanpost);
  console.log(`median /c: baseline ${base.toFixed(0)} req/s, skanpost ${ours.toFixed(0)} req/s, ratio ${(ours / base).toFixed(2)} (goal ≥ 0.7)`);
  {
    // What the request log costs on this path: the same run with one line per request turned off.
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = String((free.address() as AddressInfo).port);
    await new Promise((resolve) => free.close(resolve));
    const quiet = await start('skanpost', dir, { SKANPOST_LOG_LEVEL: 'warn', PORT: port });
    const { linkId } = await mmpSetup(quiet.url);
    const result = await loadGet(
      quiet.url,
      Array.from({ length: 1000 }, (_, i) => `/c/${linkId}?sub1=pub-${i % 50}`),
      quiet.child.pid!,
    );
    console.log(`skanpost /c, SKANPOST_LOG_LEVEL=warn: ${fmt(result, peakRssMb(quiet.child.pid!))}  ratio to the baseline median ${(result.rps / base).toFixed(2)}`);
    await quiet.stop();
  }

  const server = await start('skanpost', dir);
  const { token, partnerId, linkId } = await mmpSetup(server.url);
  const at = new Date(Date.now() - 60_000);
  const count = 15_000 * DURATION;
  // Each an install of its own click, signed as /c would: every one is accepted and written.
  const paths = Array.from(
    { length: count },
    (_, i) =>
      `/mmp/${partnerId}?token=${token}&click_id=${mintClickId({ linkId, touch: 'click', at }, CLICK_SECRET)}&event_name=install&app_id=1000001&country_code=FR&event_id=${i}`,
  );
  const result = await loadGet(server.url, paths, server.child.pid!);
  console.log(
    `MMP postbacks, each stored before its 200: ${fmt(result, peakRssMb(server.child.pid!))}  200s ${result.answered['200'] ?? 0}, installs in the report ${(await mmpTotals(server.url))?.installs}`,
  );
  await server.stop();
}

async function partner(): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (r: { rps: number; p50: number; p99: number; errors: number; cpu: { main: number; others: number; threads?: string }; perCommit?: number }, rss: number) =>
  `${r.rps.toFixed(0).padStart(6)} req/s  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(4)} ms  errors ${r.errors}  peak RSS ${rss.toFixed(0)} MB  CPU/request: main ${r.cpu.main.toFixed(0)} µs, other threads ${r.cpu.others.toFixed(0)} µs${r.cpu.threads ? ` (each: ${r.cpu.threads})` : ''}${r.perCommit !== undefined ? `  units/commit ${r.perCommit.toFixed(1)}` : ''}`;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-bench-ingest-'));
  if (values.only === 'mmp') {
    await mmpBench(dir);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  console.log(`bench:ingest — ${DURATION} s per run after ${WARMUP} s of warm-up, 64 connections, ${ROUNDS} rounds A B C D (node ${process.version})`);
  const perRun = 12_000 * (DURATION + WARMUP);
  const kinds = ['baseline', 'skanpost', 'naive', 'floor'] as const;
  const saturated: Record<Kind, number[]> = { baseline: [], skanpost: [], naive: [], floor: [] };
  // Server CPU (user + system, every thread) per answered request, µs.
  const cpu: Record<Kind, number[]> = { baseline: [], skanpost: [], naive: [], floor: [] };
  const rssPeak: Record<Kind, number[]> = { baseline: [], skanpost: [], naive: [], floor: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      const server = await start(kind, dir);
      const result = await load(server.url, signedPostbacks(perRun), server.child.pid!);
      const rss = peakRssMb(server.child.pid!);
      await server.stop();
      saturated[kind].push(result.rps);
      cpu[kind].push(result.cpu.main + result.cpu.others);
      rssPeak[kind].push(rss);
      console.log(`round ${round + 1} ${kind.padEnd(8)} ${fmt(result, rss)}`);
    }
  }
  const base = median(saturated.baseline);
  const ours = median(saturated.skanpost);
  const naive = median(saturated.naive);
  const floor = median(saturated.floor);
  console.log(
    `median saturated: baseline ${base.toFixed(0)} req/s, skanpost ${ours.toFixed(0)} req/s, naive durable ${naive.toFixed(0)} req/s, group-commit floor ${floor.toFixed(0)} req/s`,
  );
  console.log(
    `throughput: skanpost / baseline ${(ours / base).toFixed(2)} (goal ≥ 0.5), skanpost / naive durable ${(ours / naive).toFixed(2)}, floor / baseline ${(floor / base).toFixed(2)}`,
  );
  const cpuOf = (kind: Kind) => median(cpu[kind]);
  console.log(
    `CPU per request (median): baseline ${cpuOf('baseline').toFixed(0)} µs, skanpost ${cpuOf('skanpost').toFixed(0)} µs, naive durable ${cpuOf('naive').toFixed(0)} µs; ` +
      `skanpost / baseline ${(cpuOf('skanpost') / cpuOf('baseline')).toFixed(2)} (target ≤ 2.0), skanpost / naive durable ${(cpuOf('skanpost') / cpuOf('naive')).toFixed(2)}; ` +
      `group-commit floor ${cpuOf('floor').toFixed(0)} µs, floor / baseline ${(cpuOf('floor') / cpuOf('baseline')).toFixed(2)}, skanpost / floor ${(cpuOf('skanpost') / cpuOf('floor')).toFixed(2)}; ` +
      `skanpost peak RSS ${Math.max(...rssPeak.skanpost).toFixed(0)} MB (target ≤ 200)`,
  );

  const rate = Math.round(base * 0.6);
  for (const kind of ['baseline', 'skanpost'] as const) {
    const server = await start(kind, dir);
    const result = await load(server.url, signedPostbacks(perRun), server.child.pid!, rate);
    const rss = peakRssMb(server.child.pid!);
    await server.stop();
    console.log(`fixed ${rate} req/s ${kind.padEnd(8)} ${fmt(result, rss)}`);
  }

  const server = await start('skanpost', dir);
  const mixed = await load(server.url, signedPostbacks(perRun, { duplicates: 0.1, invalid: 0.05 }), server.child.pid!);
  console.log(`skanpost, 10 % duplicates + 5 % invalid: ${fmt(mixed, peakRssMb(server.child.pid!))}`);
  await server.stop();

  const partners = [await partner(), await partner()];
  const forwarding = await start('skanpost', dir);
  for (const p of partners) {
    await fetch(`${forwarding.url}/v1/destinations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: p.url, url: p.url }) });
  }
  const forwarded = await load(forwarding.url, signedPostbacks(perRun), forwarding.child.pid!);
  console.log(`skanpost, aggregates + 2 forwarding destinations: ${fmt(forwarded, peakRssMb(forwarding.child.pid!))}`);
  await forwarding.stop();
  for (const p of partners) p.close();
  if (values.only === 'all') await mmpBench(dir);
  rmSync(dir, { recursive: true, force: true });
}

await main();
