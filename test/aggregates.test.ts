// Aggregates kept at ingest equal aggregates rebuilt from the raw postbacks, whatever arrives:
// duplicates, conflicts, forgeries, every window and protocol; schema and campaign changes follow.

import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import type { Db } from '../src/db/db.js';
import { startRebuild } from '../src/db/jobs.js';
import { addCampaign, addSchema } from '../src/db/settings.js';
import { runPendingJobs } from '../src/maintenance/jobs.js';
import { ConversionSchema } from '../src/model/conversion-schema.js';
import { createTestApp, type TestApp } from './support/app.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody, uuid } from './support/signing.js';

const key = generateKey('P-256');
const forger = generateKey('P-256');
const EXTRA = `${key.spkiBase64},aak:k/0=${key.spkiBase64},aak-dev:d/0=${key.spkiBase64}`;
const example = ConversionSchema.parse(JSON.parse(readFileSync(new URL('../fixtures/conversion-schema.json', import.meta.url), 'utf8')));

let clock = new Date('2026-06-01T00:00:00Z').getTime();
let app: TestApp;
beforeEach(async () => {
  app = await createTestApp({ extraKeys: EXTRA, now: () => new Date(clock) });
});
afterEach(async () => {
  await app.close();
});

async function snapshot(db: Db) {
  const rollups = await db.all(
    sql`select * from rollups where postbacks != 0 or conflicts != 0 or revenue_min_cents != 0 or revenue_max_cents != 0 order by 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23`,
  );
  const events = await db.all(
    sql`select * from rollup_events where postbacks != 0 or count_min != 0 or count_max != 0 order by 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23`,
  );
  return { rollups, events };
}

async function rebuild(db: Db) {
  await app.writer.run((tx) => startRebuild(tx.db, new Date(clock)));
  await runPendingJobs(db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock), 7);
}

// One generated arrival: a kind of body, and how much later it comes.
const arrival = fc.record({
  kind: fc.constantFrom('skan4', 'skan4-coarse', 'skan3', 'aak', 'aak-dev', 'forged', 'unknown-version', 'resend', 'conflict'),
  window: fc.integer({ min: 0, max: 2 }),
  value: fc.integer({ min: 0, max: 63 }),
  coarse: fc.constantFrom('low', 'medium', 'high'),
  source: fc.constantFrom('5239', '239', '39', '1201', '07'),
  app: fc.constantFrom(111, 222),
  minutes: fc.integer({ min: 0, max: 60 * 24 * 3 }),
});

type Arrival = typeof arrival extends fc.Arbitrary<infer T> ? T : never;

function bodyFor(a: Arrival, sent: Array<Record<string, unknown>>): Record<string, unknown> {
  const common = { 'app-id': a.app, 'source-identifier': a.source, 'postback-sequence-index': a.window };
  switch (a.kind) {
    case 'skan4':
      return signSkan(skanBody('4.0', { ...common, ...(a.window === 0 ? { 'conversion-value': a.value } : { 'coarse-conversion-value': a.coarse }) }), key, '4.0');
    case 'skan4-coarse':
      return signSkan(skanBody('4.0', { ...common, 'coarse-conversion-value': a.coarse, 'country-code': 'FR' }), key, '4.0');
    case 'skan3':
      return signSkan(skanBody('3.0', { 'app-id': a.app, 'campaign-id': (a.value % 100) + 1, 'conversion-value': a.value }), key, '3.0');
    case 'aak':
    case 'aak-dev': {
      const payload = aakPayload({ 'advertised-item-identifier': a.app, 'source-identifier': a.source, 'postback-sequence-index': a.window });
      const kid = a.kind === 'aak' ? 'k/0' : 'd/0';
      return { 'jws-string': signJws({ kid, alg: 'ES256' }, payload, key), ...(a.window === 0 ? { 'conversion-value': a.value } : {}) };
    }
    case 'forged':
      return signSkan(skanBody('4.0', { ...common, 'conversion-value': a.value }), forger, '4.0');
    case 'unknown-version':
      return signSkan(skanBody('4.0', { ...common, version: '5.0' }), key, '4.0');
    case 'resend':
      return sent.length ? { ...sent[a.value % sent.length]!, timestamp: String(a.minutes) } : { 'transaction-id': uuid(), 'ad-network-id': 'x', 'attribution-signature': 'AA==' };
    case 'conflict': {
      const original = sent.find((b) => 'attribution-signature' in b && 'conversion-value' in b);
      return original
        ? { ...original, 'conversion-value': ((original['conversion-value'] as number) + 1) % 64 }
        : { 'transaction-id': uuid(), 'ad-network-id': 'x', 'attribution-signature': 'AA==' };
    }
  }
  throw new Error(`unknown kind ${String(a.kind)}`);
}

describe('aggregates', () => {
  it('kept at ingest equal those rebuilt from raw postbacks (random arrivals)', async () => {
    await app.writer.run((tx) => addSchema(tx, 111, { ...example, effective_from: '2026-05-01T00:00:00Z' }, new Date(clock)));
    await app.writer.run((tx) => addCampaign(tx, { ad_network_id: 'example123.skadnetwork', app_id: 111, source_identifier: '39', name: 'Spring' }, new Date(clock)));
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));

    await fc.assert(
      fc.asyncProperty(fc.array(arrival, { minLength: 1, maxLength: 40 }), async (arrivals) => {
        const sent: Array<Record<string, unknown>> = [];
        for (const a of arrivals) {
          clock += a.minutes * 60_000;
          const body = bodyFor(a, sent);
          sent.push(body);
          expect((await app.post(body)).status).toBe(200);
        }
        const kept = await snapshot(app.database.db);
        await rebuild(app.database.db);
        expect(await snapshot(app.database.db)).toEqual(kept);

        // And, independently of the contribution code, the counts match the raw table.
        const [raw] = await app.database.db.all<{ stored: number; conflicts: number }>(
          sql`select sum(outcome = 'stored') as stored, sum(outcome = 'conflict') as conflicts from postbacks`,
        );
        const [agg] = await app.database.db.all<{ stored: number; conflicts: number }>(sql`select sum(postbacks) as stored, sum(conflicts) as conflicts from rollups`);
        expect(agg).toEqual(raw);
      }),
      { numRuns: 15 },
    );
  });

  it('a new schema version re-decodes the affected postbacks, and deleting it undoes that', async () => {
    const body = signSkan(skanBody('4.0', { 'app-id': 333, 'conversion-value': 12 }), key, '4.0');
    await app.post(body);
    const revenue = async () => (await app.database.db.get<{ r: number }>(sql`select sum(revenue_max_cents) as r from rollups where app_id = 333`))!.r;
    expect(await revenue()).toBe(0);

    const schema = await app.writer.run((tx) => addSchema(tx, 333, { ...example, effective_from: '2026-01-01T00:00:00Z' }, new Date(clock)));
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
    expect(await revenue()).toBe(999);
    expect((await app.rows()).at(-1)!.decode).toMatchObject({ schemaVersion: schema.version, currency: 'USD' });

    // A schema that starts after the install does not apply.
    await app.writer.run((tx) => addSchema(tx, 333, { ...example, effective_from: new Date(clock + 86_400_000).toISOString(), fine: [] }, new Date(clock)));
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
    expect(await revenue()).toBe(999);

    const { deleteSchema } = await import('../src/db/settings.js');
    await app.writer.run((tx) => deleteSchema(tx, 333, schema.version, new Date(clock)));
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
    expect(await revenue()).toBe(0);
  });

  it('decodes by the schema in force at the estimated install time, not at arrival', async () => {
    const hour = 3_600_000;
    const v1 = { ...example, effective_from: new Date(clock - 30 * 24 * hour).toISOString() };
    // v2 starts 24 h before arrival: after the install (84 h before arrival for window 0).
    const v2 = { ...example, effective_from: new Date(clock - 24 * hour).toISOString(), fine: [{ from: 0, to: 63, events: [{ name: 'v2_event', min: 1, max: 1 }] }] };
    await app.writer.run(async (db) => {
      await addSchema(db, 555, v1, new Date(clock));
      await addSchema(db, 555, v2, new Date(clock));
    });
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
    await app.post(signSkan(skanBody('4.0', { 'app-id': 555, 'conversion-value': 12 }), key, '4.0')); // window 0: installed 84 h ago
    await app.post(signSkan(skanBody('3.0', { 'app-id': 555, 'conversion-value': 12 }), key, '3.0')); // SKAN 3: installed 60 h ago
    clock += 72 * hour; // the same install 72 h later is past the boundary
    await app.post(signSkan(skanBody('4.0', { 'app-id': 555, 'conversion-value': 12 }), key, '4.0'));
    const decodes = (await app.rows()).slice(-3).map((r) => [r.decode?.schemaVersion, r.decode?.events[0]?.name]);
    expect(decodes).toEqual([
      [1, 'purchase'],
      [1, 'purchase'],
      [2, 'v2_event'],
    ]);
  });

  it('campaign names: the most specific identifier in force at install time', async () => {
    const install = (days: number) => new Date(clock - days * 86_400_000).toISOString();
    await app.writer.run(async (db) => {
      await addCampaign(db, { ad_network_id: 'example123.skadnetwork', app_id: 444, source_identifier: '39', name: 'Generic 39' }, new Date(clock));
      await addCampaign(db, { ad_network_id: 'example123.skadnetwork', app_id: 444, source_identifier: '5239', name: 'Old name', effective_to: install(10) }, new Date(clock));
      await addCampaign(
        db,
        { ad_network_id: 'example123.skadnetwork', app_id: 444, source_identifier: '5239', name: 'New name', network_campaign_id: 'net-77', effective_from: install(10) },
        new Date(clock),
      );
    });
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
    await app.post(signSkan(skanBody('4.0', { 'app-id': 444, 'source-identifier': '5239' }), key, '4.0'));
    await app.post(signSkan(skanBody('4.0', { 'app-id': 444, 'source-identifier': '39' }), key, '4.0'));
    const rows = (await app.rows()).slice(-2);
    expect(rows.map((r) => [r.campaign, r.campaignName, r.networkCampaignId])).toEqual([
      ['39', 'New name', 'net-77'],
      ['39', 'Generic 39', null],
    ]);
  });
});
