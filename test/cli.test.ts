// The command line for analysts and operators: report, schema validate, keys create, rebuild,
// import (and the export → import round trip), with exit codes 0 / 1 / 2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/node/cli.js';
import { createTestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
let dir: string;
let env: Record<string, string>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-cli-'));
  env = { SKANPOST_DB: join(dir, 'a.db'), SKANPOST_EXTRA_KEYS: key.spkiBase64 };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], environment = env) {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += `${t}\n`), stderr: (t) => (err += `${t}\n`), stdin: () => new Uint8Array(), env: environment });
  return { code, out, err };
}

const postback = (at: string, overrides: Record<string, unknown> = {}) => ({ received_at: at, body: signSkan(skanBody('4.0', { 'app-id': 100, ...overrides }), key, '4.0') });

describe('schema validate', () => {
  it('0 for the documented example, 1 for a broken schema, 2 for a missing file', async () => {
    expect((await cli(['schema', 'validate', 'fixtures/conversion-schema.json'])).code).toBe(0);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ effective_from: '2026-01-01T00:00:00Z', currency: 'USD', fine: [{ from: 3, to: 1, events: [] }] }));
    const bad = await cli(['schema', 'validate', join(dir, 'bad.json')]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ valid: false, problems: [{ field: 'fine.0' }] });
    expect((await cli(['schema', 'validate', join(dir, 'nope.json')])).code).toBe(2);
  });
});

describe('import, report, rebuild', () => {
  it('imports bare lines and envelopes, reports them, rebuilds to the same figures', async () => {
    const lines = [
      JSON.stringify(postback('2026-06-10T10:00:00Z', { 'source-identifier': '1201' })),
      JSON.stringify(postback('2026-06-11T10:00:00Z')),
      JSON.stringify(signSkan(skanBody('4.0', { 'app-id': 100 }), key, '4.0')), // bare: received now
      '',
      JSON.stringify(postback('2026-06-11T10:00:00Z')).replace('"received_at":"2026-06-11T10:00:00Z"', '"received_at":"yesterday"'),
      '{"not": "a postback"}',
    ];
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n'));
    const imported = await cli(['import', join(dir, 'in.ndjson')]);
    expect(imported.code).toBe(1); // two lines refused
    const summary = JSON.parse(imported.out);
    expect(summary).toMatchObject({ lines: 5, rejected: 2, outcomes: { stored: 3 }, signatures: { verified: 3 } });
    expect(summary.errors.map((e: { line: number }) => e.line)).toEqual([5, 6]); // the file's lines, the blank one counted

    const report = await cli(['report', '--from', '2026-06-10', '--to', '2026-06-11', '--group-by', 'date,campaign', '--app-id', '100', '--format', 'csv']);
    expect(report.code, report.err).toBe(0);
    expect(
      report.out
        .split('\r\n')
        .slice(1, 3)
        .map((l) => l.split(',').slice(0, 4).join(',')),
    ).toEqual(['2026-06-10,01,1,1', '2026-06-11,39,1,1']);

    const table = await cli(['report', '--from', '2026-06-10', '--to', '2026-06-11', '--group-by', 'campaign']);
    expect(table.out.split('\n')[0]).toMatch(/^campaign\s+postbacks\s+verified/);

    const before = (await cli(['report', '--from', '2026-06-01', '--to', '2026-06-30', '--group-by', 'date,campaign,window', '--format', 'json'])).out;
    const rebuilt = await cli(['rebuild']);
    expect(rebuilt.code).toBe(0);
    const after = (await cli(['report', '--from', '2026-06-01', '--to', '2026-06-30', '--group-by', 'date,campaign,window', '--format', 'json'])).out;
    expect(JSON.parse(after).rows).toEqual(JSON.parse(before).rows);
  });

  it('round-trips: GET /v1/postbacks?format=ndjson imports into an empty database with equal figures', async () => {
    const ADMIN = 'round-trip-admin-key-000000';
    let clock = new Date();
    const source = await createTestApp({ path: join(dir, 'source.db'), extraKeys: key.spkiBase64, adminKey: ADMIN, now: () => clock });
    for (const [i, at] of ['2026-11-21T01:00:00Z', '2026-11-21T23:59:00Z', '2026-11-24T12:00:00Z'].entries()) {
      clock = new Date(at);
      await source.post(postback(at, { 'conversion-value': i, 'country-code': 'DE' }).body);
    }
    const exported = await (await source.app.request('/v1/postbacks?format=ndjson', { headers: { Authorization: `Bearer ${ADMIN}` } })).text();
    const sourceReport = await (
      await source.app.request('/v1/reports/campaigns?from=2026-11-20&to=2026-11-30&group_by=date,conversion_value,country_code', { headers: { Authorization: `Bearer ${ADMIN}` } })
    ).json();
    await source.close();

    writeFileSync(join(dir, 'export.ndjson'), exported);
    const target = { ...env, SKANPOST_DB: join(dir, 'target.db') };
    expect((await cli(['import', join(dir, 'export.ndjson')], target)).code).toBe(0);
    const copy = await createTestApp({ path: target.SKANPOST_DB, extraKeys: key.spkiBase64, adminKey: ADMIN, now: () => clock });
    const copyReport = await (
      await copy.app.request('/v1/reports/campaigns?from=2026-11-20&to=2026-11-30&group_by=date,conversion_value,country_code', { headers: { Authorization: `Bearer ${ADMIN}` } })
    ).json();
    expect(copyReport.rows).toEqual(sourceReport.rows);
    expect(copyReport.rows.map((r: { date: string }) => r.date)).toEqual(['2026-11-21', '2026-11-21', '2026-11-24']);
    // A second import changes nothing: every line is a duplicate.
    const again = JSON.parse((await cli(['import', join(dir, 'export.ndjson')], target)).out);
    expect(again.outcomes).toEqual({ duplicate: 3 });
    await copy.close();
  });
});

describe('keys create', () => {
  it('prints a working secret once', async () => {
    const made = await cli(['keys', 'create', '--role', 'analyst', '--apps', '100,200', '--name', 'advertiser']);
    expect(made.code).toBe(0);
    const key = JSON.parse(made.out);
    expect(key).toMatchObject({ role: 'analyst', app_ids: [100, 200], name: 'advertiser' });
    const app = await createTestApp({ path: env.SKANPOST_DB });
    expect((await app.app.request('/v1/reports/campaigns', { headers: { Authorization: `Bearer ${key.secret}` } })).status).toBe(200);
    await app.close();
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['report', '--group-by', 'colour']],
    [['report', '--colour', 'red']],
    [['report', '--format', 'xml']],
    [['keys', 'create', '--role', 'owner']],
    [['keys', 'create', '--role', 'analyst', '--apps', 'abc']],
    [['keys', 'create', '--role', 'analyst', '--apps', '']],
    [['keys', 'create', '--role', 'admin', '--networks', ' , ']],
    [['import']],
    [['import', '/nonexistent.ndjson']],
    [['schema', 'check', 'x']],
    [['frobnicate']],
    [[]],
  ])('%j', async (args) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.err + run.out).toContain('usage: skanpost');
  });
});

describe('help and exit codes', () => {
  it.each(['verify', 'reverify', 'report', 'schema', 'keys', 'rebuild', 'import', 'prune', 'backup', 'destinations', 'deliveries'])(
    '%s --help exits 0 with its usage',
    async (command) => {
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const run = await cli(args);
        expect(run.code).toBe(0);
        expect(run.out).toMatch(new RegExp(`^usage: skanpost ${command}`));
      }
    },
  );

  it('backup into a folder that does not exist is a usage error', async () => {
    const run = await cli(['backup', join(dir, 'no', 'such', 'folder', 'copy.db')]);
    expect(run.code).toBe(2);
    expect(run.err).toContain('does not exist');
  });

  it('verify exits 2 for a body the server would refuse with 413', async () => {
    const big = signSkan(skanBody('4.0', { padding: 'x'.repeat(17_000) }), key, '4.0');
    writeFileSync(join(dir, 'big.json'), JSON.stringify(big));
    const run = await cli(['verify', join(dir, 'big.json')]);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.out)).toMatchObject({ error: expect.stringContaining('413') });
  });

  it('deliveries replay without ids or a filter refuses, as the API does', async () => {
    const run = await cli(['deliveries', 'replay']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('--ids, or a filter');
    expect((await cli(['deliveries', 'replay', '--state', 'gone'])).code).toBe(2);
  });
});

describe('destinations and deliveries', () => {
  it('adds, lists, pauses, resumes and reports on destinations; lists and replays dead letters', async () => {
    const { startPartner, status } = await import('./support/partner.js');
    const { sendDue } = await import('../src/forward/sender.js');
    const partner = await startPartner();
    partner.script = [status(400)];
    try {
      const app = await createTestApp({ path: env.SKANPOST_DB, extraKeys: key.spkiBase64 });
      await app.post(postback('2026-06-10T10:00:00Z').body);
      await app.close();
      writeFileSync(join(dir, 'dest.json'), JSON.stringify({ name: 'mmp', url: `${partner.url}/pb`, retry: { max_attempts: 1 } }));
      const added = await cli(['destinations', 'add', join(dir, 'dest.json'), '--backfill-since', '2020-01-01T00:00:00Z']);
      expect(added.code, added.err).toBe(0);
      expect(JSON.parse(added.out)).toMatchObject({ id: 1, name: 'mmp', backfilled: 1 });
      expect(JSON.parse((await cli(['destinations', 'list'])).out)).toHaveLength(1);
      expect(JSON.parse((await cli(['destinations', 'pause', '1'])).out).paused).toBe(true);
      expect(JSON.parse((await cli(['destinations', 'resume', '1'])).out).paused).toBe(false);

      const sender = await createTestApp({ path: env.SKANPOST_DB, extraKeys: key.spkiBase64 });
      await sendDue({ db: sender.database.db, writer: sender.writer, fetch: globalThis.fetch, now: () => new Date() });
      await sender.close();
      expect(JSON.parse((await cli(['deliveries', 'dead'])).out)).toMatchObject([{ id: 1, last_status: 400 }]);
      expect(JSON.parse((await cli(['destinations', 'stats', '1'])).out)).toMatchObject({ dead: 1, delivered: 0 });
      expect(JSON.parse((await cli(['deliveries', 'replay', '--destination', '1'])).out).replayed).toBe(1);
      expect(JSON.parse((await cli(['destinations', 'stats', '1'])).out)).toMatchObject({ dead: 0, pending: 1 });

      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ name: 'x', url: `${partner.url}/?t={nope}`, format: 'template' }));
      const bad = await cli(['destinations', 'add', join(dir, 'bad.json')]);
      expect(bad.code).toBe(1);
      expect(bad.err).toContain('unknown macro {nope}');
      expect((await cli(['destinations', 'stats', 'x'])).code).toBe(2);
      expect((await cli(['deliveries', 'bury'])).code).toBe(2);
    } finally {
      await partner.close();
    }
  });
});

describe('backup', () => {
  it('copies the database to a new file that opens with every row, and never overwrites', async () => {
    const app = await createTestApp({ path: env.SKANPOST_DB, extraKeys: key.spkiBase64 });
    for (let i = 0; i < 5; i++) await app.post(postback('2026-06-10T10:00:00Z').body);
    const target = join(dir, 'backup.db');
    const made = await cli(['backup', target]);
    expect(made.code, made.err).toBe(0);
    expect(JSON.parse(made.out)).toMatchObject({ backup: target });
    await app.post(postback('2026-06-10T10:00:00Z').body); // the live database moves on
    await app.close();
    const copy = await createTestApp({ path: target });
    expect(await copy.rows()).toHaveLength(5);
    expect(copy.database.sqlite.prepare('select sum(postbacks) as n from rollups').get()).toEqual({ n: 5 });
    await copy.close();
    expect((await cli(['backup', target])).code).toBe(2);
    expect((await cli(['backup'])).code).toBe(2);
  });
});

describe('prune', () => {
  it('removes rows past their retention now', async () => {
    const forger = generateKey('P-256');
    const app = await createTestApp({ path: env.SKANPOST_DB, extraKeys: key.spkiBase64, now: () => new Date('2020-01-01T00:00:00Z') });
    await app.post(signSkan(skanBody('4.0'), forger, '4.0'));
    await app.post(postback('2020-01-01T00:00:00Z').body);
    await app.close();
    const run = await cli(['prune']);
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual({ pruned: 1 });
    expect((await cli(['prune'], { ...env, SKANPOST_RETENTION_DAYS: 'soon' })).code).toBe(2);
  });
});

describe('reported import', () => {
  it('stores a CSV all or nothing, replaces a re-uploaded row, and names each bad row by its line', async () => {
    const header = 'source,date,tz,app_id,ad_network_id,campaign,metric,value';
    writeFileSync(join(dir, 'good.csv'), `${header}\nnetwork,2026-06-10,UTC,100,n.skadnetwork,39,installs,5\nnetwork,2026-06-11,UTC,100,n.skadnetwork,39,installs,6\n`);
    const stored = await cli(['reported', 'import', join(dir, 'good.csv')]);
    expect(stored.code, stored.err).toBe(0);
    expect(JSON.parse(stored.out)).toEqual({ received: 2, stored: 2 });
    writeFileSync(join(dir, 'again.csv'), `${header}\nnetwork,2026-06-10,UTC,100,n.skadnetwork,39,installs,7\n`);
    expect((await cli(['reported', 'import', join(dir, 'again.csv')])).code).toBe(0);
    writeFileSync(join(dir, 'bad.csv'), `${header}\nnetwork,2026-06-12,UTC,100,n.skadnetwork,39,installs,8\nmmp,2026-06-12,UTC,100,n.skadnetwork,39,installs,1\n`);
    const bad = await cli(['reported', 'import', join(dir, 'bad.csv')]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ problems: [{ line: 3, field: 'source' }], problems_total: 1 });
    expect((await cli(['reported', 'import', join(dir, 'nope.csv')])).code).toBe(2);
    expect((await cli(['reported', 'export'])).code).toBe(2);

    // What was stored, as the API lists it.
    const app = await createTestApp({ path: env.SKANPOST_DB!, now: () => new Date('2026-07-01T00:00:00Z'), adminKey: 'cli-admin-key-0123456789' });
    const res = await app.app.request('/v1/reported', { headers: { authorization: 'Bearer cli-admin-key-0123456789' } });
    const body = (await res.json()) as { reported: Array<{ date: string; value: number }> };
    await app.close();
    expect(body.reported.map((r) => [r.date, r.value])).toEqual([
      ['2026-06-10', 7],
      ['2026-06-11', 6],
    ]);
  });
});

describe('queue mode', () => {
  it('is refused on Node, which writes each postback before answering', async () => {
    const refused = await cli(['prune'], { ...env, SKANPOST_INGEST_MODE: 'queue' });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('SKANPOST_INGEST_MODE=queue is for Cloudflare Workers');
  });
});
