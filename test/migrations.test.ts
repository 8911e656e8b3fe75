// Data migrations, each applied to a database file as the release before it left it; and the settings a file opens with.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { postbacks, rollups } from '../src/db/schema.js';
import { runPendingJobs } from '../src/maintenance/jobs.js';
import { openDatabase } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { createTestApp } from './support/app.js';
import { databaseAt, insertOld } from './support/old-database.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody } from './support/signing.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const key = generateKey('P-256');

function tempPath() {
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-migrate-'));
  dirs.push(dir);
  return join(dir, 'db.sqlite');
}

/** Postback rows as today's pipeline builds them, for writing into an older database. */
async function ingestedRows(bodies: Array<Record<string, unknown>>, aak = false) {
  const app = await createTestApp({ extraKeys: `${key.spkiBase64},aak:test-kid=${key.spkiBase64}` });
  for (const body of bodies) expect((await app.post(body, aak ? { path: '/.well-known/appattribution/report-attribution/' } : {})).status).toBe(200);
  const rows = await app.rows();
  await app.close();
  return rows;
}

/** Opens the file with every migration and runs the jobs they queued, then hands it to `check`. */
async function upgrade(path: string, check: (db: ReturnType<typeof openDatabase>, jobs: () => Promise<number>) => Promise<void>) {
  const reopened = openDatabase(path);
  const writer = new GroupCommitWriter(reopened.sqlite, reopened.db);
  try {
    await check(reopened, () => runPendingJobs(reopened.db, writer, DEFAULT_INSTALL_MODEL, () => new Date()));
  } finally {
    await writer.close();
    reopened.sqlite.close();
  }
}

it('0005 gives absent did-win and redownload back their NULL and rebuilds the aggregates', async () => {
  const path = tempPath();
  const rows = await ingestedRows([signSkan(skanBody('2.1'), key, '2.1'), signSkan(skanBody('3.0', { 'did-win': false }), key, '3.0')]);
  const old = databaseAt(path, '0004_');
  // What the old writer left behind: did_win 0 where the body has none, an absent decode as 'null'.
  insertOld(old, postbacks, rows);
  old.exec(`UPDATE postbacks SET did_win = 0, decode = 'null' WHERE version = '2.1'`);
  old.close();

  await upgrade(path, async (reopened, jobs) => {
    const stored = await reopened.db.select().from(postbacks);
    expect(stored.map((r) => [r.version, r.didWin])).toEqual([
      ['2.1', null],
      ['3.0', false],
    ]);
    expect(reopened.sqlite.prepare(`SELECT count(*) AS n FROM postbacks WHERE decode = 'null'`).get()).toEqual({ n: 0 });
    expect(await reopened.db.select().from(rollups)).toEqual([]);
    await jobs();
    const [v21] = await reopened.db
      .select({ installs: sql<number>`sum(${rollups.installs})`, nonWinning: sql<number>`sum(${rollups.nonWinning})` })
      .from(rollups)
      .where(eq(rollups.version, '2.1'));
    expect(v21).toEqual({ installs: 1, nonWinning: 0 });
    const [v30] = await reopened.db
      .select({ nonWinning: sql<number>`sum(${rollups.nonWinning})` })
      .from(rollups)
      .where(eq(rollups.version, '3.0'));
    expect(v30).toEqual({ nonWinning: 1 });
  });
});

it('0008 fills fidelity_type of AdAttributionKit rows and rebuilds the aggregates with ad_interaction_type and revenue in cents', async () => {
  const path = tempPath();
  const jws = signJws({ kid: 'test-kid', alg: 'ES256' }, aakPayload(), key);
  const rows = await ingestedRows([{ 'jws-string': jws, 'ad-interaction-type': 'view' }], true);
  const old = databaseAt(path, '0007_');
  // The old pipeline left fidelity_type empty for AdAttributionKit, and counted revenue in micros.
  insertOld(
    old,
    postbacks,
    rows.map((row) => ({ ...row, fidelityType: null })),
  );
  old.exec(`INSERT INTO rollups (arrival_bucket, install_bucket, protocol, environment, signature, ad_network_id, app_id, campaign, campaign_name,
    source_identifier, window, fidelity_type, redownload, did_win, version, conversion_type, country_code, conversion_value,
    coarse_conversion_value, source_app_id, source_domain, currency, postbacks, verified, revenue_max_micros)
    VALUES (1, 1, 'aak', 'production', 'verified', 'x', 1, '', '', '', 0, -1, -1, -1, '', '', '', -1, '', -1, '', '', 1, 1, 9223372036854775807)`);
  old.close();

  await upgrade(path, async (reopened, jobs) => {
    expect((await reopened.db.select().from(postbacks)).map((r) => [r.protocol, r.adInteractionType, r.fidelityType])).toEqual([['aak', 'view', 0]]);
    expect(await reopened.db.select().from(rollups)).toEqual([]);
    await jobs();
    const rebuilt = await reopened.db.select().from(rollups);
    expect(rebuilt.map((r) => [r.adInteractionType, r.fidelityType, r.installs])).toEqual([['view', 0, 1]]);
  });
});

it('a fresh database gets no rebuild job from its migrations', async () => {
  const app = await createTestApp();
  expect(app.database.sqlite.prepare('SELECT count(*) AS n FROM maintenance_jobs').get()).toEqual({ n: 0 });
  await app.close();
});

it('a database file opens durable: WAL, FULL sync, a checkpoint every 10,000 pages, the WAL cut back to 64 MiB', () => {
  const { sqlite } = openDatabase(tempPath());
  expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
  expect(sqlite.pragma('synchronous', { simple: true })).toBe(2); // FULL
  expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
  expect(sqlite.pragma('journal_size_limit', { simple: true })).toBe(64 * 1024 * 1024);
  sqlite.close();
});

it('0009 disables destinations whose URL carries credentials, says why, and never shows the password', async () => {
  const path = tempPath();
  const old = databaseAt(path, '0008_');
  const insert = old.prepare(`INSERT INTO destinations (name, url, method, format, enriched_keys, filters, headers, retry, timeout_ms, enabled, created_at, updated_at)
    VALUES (?, ?, 'POST', 'raw', '{}', '{}', '{}', '{"first_delay_s":60,"factor":3,"cap_s":3600,"max_attempts":30}', 10000, 1, 0, 0)`);
  insert.run('with credentials', 'https://partner:hunter2@mmp.example/skan?x=1');
  insert.run('plain', 'https://mmp.example/skan?email=ops@example.com');
  old.close();
  await upgrade(path, async () => {});

  const ADMIN = 'migration-admin-key-000000';
  const app = await createTestApp({ path, adminKey: ADMIN });
  const listed = await (await app.app.request('/v1/destinations', { headers: { Authorization: `Bearer ${ADMIN}` } })).text();
  await app.close();
  expect(listed).not.toContain('hunter2');
  const [withCredentials, plain] = JSON.parse(listed).destinations;
  expect(withCredentials).toMatchObject({ url: 'https://partner:***@mmp.example/skan?x=1', enabled: false, last_error: expect.stringContaining('credentials') });
  expect(plain).toMatchObject({ url: 'https://mmp.example/skan?email=ops@example.com', enabled: true, last_error: null });
});

it('0010 keeps every delivery, its id and state, and lets the outbox hold MMP copies and impressions', async () => {
  const path = tempPath();
  const old = databaseAt(path, '0009_');
  old
    .prepare(`INSERT INTO destinations (name, url, method, format, enriched_keys, filters, headers, retry, timeout_ms, enabled, created_at, updated_at)
    VALUES ('p', 'https://mmp.example/skan', 'POST', 'raw', '{}', '{}', '{}', '{"first_delay_s":60,"factor":3,"cap_s":3600,"max_attempts":30}', 10000, 1, 0, 0)`)
    .run();
  const insert = old.prepare(
    `INSERT INTO deliveries (id, postback_id, destination_id, state, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at) VALUES (?, ?, 1, ?, ?, 5, ?, ?, 1, ?)`,
  );
  insert.run(7, 70, 'pending', 2, 503, 'HTTP 503', null);
  insert.run(8, 80, 'delivered', 1, 200, null, 9);
  insert.run(9, 90, 'dead', 30, 404, 'HTTP 404', null);
  const before = old.prepare('SELECT * FROM deliveries ORDER BY id').all() as Array<Record<string, unknown>>;
  old.close();
  await upgrade(path, async ({ sqlite }) => {
    const after = sqlite.prepare('SELECT * FROM deliveries ORDER BY id').all() as Array<Record<string, unknown>>;
    expect(after).toEqual(before.map((row) => ({ ...row, mmp_postback_id: null, click_row_id: null })));
    // A copy of an MMP postback and an impression ping (no destination) now fit; one per pair still.
    sqlite.prepare(`INSERT INTO deliveries (mmp_postback_id, destination_id, state, next_attempt_at, created_at) VALUES (1, 1, 'pending', 0, 0)`).run();
    sqlite.prepare(`INSERT INTO deliveries (click_row_id, state, next_attempt_at, created_at) VALUES (1, 'pending', 0, 0)`).run();
    expect(() => sqlite.prepare(`INSERT INTO deliveries (click_row_id, state, next_attempt_at, created_at) VALUES (1, 'pending', 0, 0)`).run()).toThrow(/UNIQUE/);
    expect(() => sqlite.prepare(`INSERT INTO deliveries (postback_id, destination_id, state, next_attempt_at, created_at) VALUES (70, 1, 'pending', 0, 0)`).run()).toThrow(
      /UNIQUE/,
    );
  });
});

describe('0012 gives the aggregates the dimension network_campaign_id', () => {
  const OLD_ROLLUP = `INSERT INTO rollups (arrival_bucket, install_bucket, protocol, environment, signature, ad_network_id, app_id, campaign, campaign_name,
    source_identifier, window, fidelity_type, redownload, did_win, version, conversion_type, ad_interaction_type, country_code, conversion_value,
    coarse_conversion_value, source_app_id, source_domain, currency, postbacks, verified, installs)
    VALUES (1, 1, 'skan', 'production', 'verified', 'example123.skadnetwork', 525463029, '39', ?, '5239', 0, 1, 0, 1, '4.0', '', '', '', -1, '', -1, '', '', 1, 1, 1)`;
  const MAPPING = `INSERT INTO campaigns (ad_network_id, app_id, source_identifier, name, network_campaign_id, created_at)
    VALUES ('example123.skadnetwork', 525463029, '39', 'Summer', ?, 0)`;

  it('keeps the aggregates as they are where no mapping carries a network campaign id', async () => {
    const path = tempPath();
    const old = databaseAt(path, '0011_');
    old.prepare(MAPPING).run(null);
    old.prepare(OLD_ROLLUP).run('Summer');
    old.close();
    await upgrade(path, async ({ sqlite, db }) => {
      expect(sqlite.prepare('SELECT count(*) AS n FROM maintenance_jobs').get()).toEqual({ n: 0 });
      expect((await db.select().from(rollups)).map((r) => [r.campaignName, r.networkCampaignId, r.installs])).toEqual([['Summer', '', 1]]);
    });
  });

  it('rebuilds them from the postbacks when a named row may need one', async () => {
    const path = tempPath();
    const rows = await ingestedRows([signSkan(skanBody('4.0'), key, '4.0')]);
    const old = databaseAt(path, '0011_');
    old.prepare(MAPPING).run('cmp-77');
    insertOld(
      old,
      postbacks,
      rows.map((row) => ({ ...row, campaignName: 'Summer', networkCampaignId: 'cmp-77' })),
    );
    old.prepare(OLD_ROLLUP).run('Summer');
    old.close();
    await upgrade(path, async ({ sqlite, db }, jobs) => {
      expect(await db.select().from(rollups)).toEqual([]);
      expect((await db.select().from(postbacks)).map((r) => r.channel)).toEqual(['direct']);
      await jobs();
      expect((await db.select().from(rollups)).map((r) => [r.campaignName, r.networkCampaignId, r.installs])).toEqual([['Summer', 'cmp-77', 1]]);
      expect(sqlite.prepare('SELECT count(*) AS n FROM rollup_events').get()).toEqual({ n: 0 });
    });
  });
});

it('0014 places every app already stored on shard 0, where its rows are, so shards added later leave them there', async () => {
  const path = tempPath();
  const old = databaseAt(path, '0013_');
  old
    .prepare(
      `INSERT INTO rollups (arrival_bucket, install_bucket, protocol, environment, signature, ad_network_id, app_id, campaign, campaign_name, network_campaign_id,
        source_identifier, window, fidelity_type, redownload, did_win, version, conversion_type, ad_interaction_type, country_code, conversion_value,
        coarse_conversion_value, source_app_id, source_domain, currency, postbacks, verified, installs)
        VALUES (1, 1, 'skan', 'production', 'verified', 'n', ?, '', '', '', '5239', 0, 1, 0, 1, '4.0', '', '', '', -1, '', -1, '', '', 1, 1, 1)`,
    )
    .run(525463029);
  old.prepare(`INSERT INTO clicks (click_id, link_id, app_id, touch, clicked_at, expires_at, imported) VALUES ('c1', 1, 777, 'click', 0, 1, 0)`).run();
  old.close();
  await upgrade(path, async ({ sqlite }) => {
    expect(sqlite.prepare('SELECT app_id, shard FROM app_shards ORDER BY app_id').all()).toEqual([
      { app_id: 777, shard: 0 },
      { app_id: 525463029, shard: 0 },
    ]);
  });
});
