// Campaign and event reports: metric definitions, time zones (+05:30, +05:45, DST), date bases,
// filling days, CSV, and clear 400s.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { addSchema } from '../src/db/settings.js';
import { runPendingJobs } from '../src/maintenance/jobs.js';
import { ConversionSchema } from '../src/model/conversion-schema.js';
import { daysInZone } from '../src/report/query.js';
import { createTestApp, type TestApp } from './support/app.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const forger = generateKey('P-256');
const ADMIN = 'admin-key-for-tests-0123456789';
const example = ConversionSchema.parse(JSON.parse(readFileSync(new URL('../fixtures/conversion-schema.json', import.meta.url), 'utf8')));

let now = new Date('2026-06-20T12:00:00Z');
let app: TestApp;
beforeEach(async () => {
  now = new Date('2026-06-20T12:00:00Z');
  app = await createTestApp({ extraKeys: `${key.spkiBase64},aak:k/0=${key.spkiBase64},aak-dev:d/0=${key.spkiBase64}`, now: () => now, adminKey: ADMIN });
});
afterEach(async () => {
  await app.close();
});

async function postAt(at: string, body: Record<string, unknown>) {
  now = new Date(at);
  const r = await app.post(body);
  expect(r.status).toBe(200);
  return r.json();
}

async function report(query: string, kind = 'campaigns') {
  const r = await app.app.request(`/v1/reports/${kind}?${query}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text(), headers: r.headers };
}

const s4 = (o: Record<string, unknown>) => signSkan(skanBody('4.0', { 'app-id': 100, ...o }), key, '4.0');

describe('metrics', () => {
  it('count verified production postbacks, by the documented definitions', async () => {
    const at = '2026-06-10T10:00:00Z';
    await postAt(at, s4({ 'source-identifier': '5239', 'conversion-value': 12 })); // install
    await postAt(at, s4({ 'source-identifier': '239', redownload: true })); // redownload, null value
    await postAt(at, s4({ 'source-identifier': '39', 'did-win': false })); // non-winning, null value
    await postAt(at, s4({ 'source-identifier': '39', 'postback-sequence-index': 1, 'coarse-conversion-value': 'high' }));
    await postAt(at, s4({ 'source-identifier': '39', 'postback-sequence-index': 2, 'coarse-conversion-value': 'low' }));
    await postAt(at, signSkan(skanBody('4.0', { 'app-id': 100, 'source-identifier': '39' }), forger, '4.0')); // invalid
    await postAt(at, s4({ 'source-identifier': '39', version: '5.0' })); // unverifiable
    await postAt(at, {
      'jws-string': signJws({ kid: 'k/0', alg: 'ES256' }, aakPayload({ 'advertised-item-identifier': 100, 'source-identifier': '1239', 'conversion-type': 're-engagement' }), key),
    });
    await postAt(at, { 'jws-string': signJws({ kid: 'd/0', alg: 'ES256' }, aakPayload({ 'advertised-item-identifier': 100, 'source-identifier': '39' }), key) });
    const first = s4({ 'source-identifier': '39', 'conversion-value': 1 });
    await postAt(at, first);
    await postAt(at, first); // duplicate: no figure moves
    await postAt(at, { ...first, 'conversion-value': 2 }); // conflict

    const { body } = await report('from=2026-06-10&to=2026-06-10&group_by=campaign');
    expect(body.rows).toEqual([
      {
        campaign: '39',
        postbacks: 9,
        verified: 7,
        installs: 2,
        redownloads: 1,
        reengagements: 1,
        non_winning: 1,
        window_0: 5,
        window_1: 1,
        window_2: 1,
        null_values: 3,
        null_rate: 0.428571,
        coarse_low: 1,
        coarse_medium: 0,
        coarse_high: 1,
        revenue_min: 0,
        revenue_max: 0,
        currency: null,
        conflicts: 1,
        invalid: 1,
        unverifiable: 1,
        campaign_name: null,
      },
    ]);
    const dev = await report('from=2026-06-10&to=2026-06-10&environment=development');
    expect(dev.body.rows[0]).toMatchObject({ postbacks: 1, verified: 1, installs: 1 });
  });

  it('decodes revenue and events with the app schema; absent values are not zero', async () => {
    await app.writer.run((tx) => addSchema(tx, 100, { ...example, effective_from: '2026-01-01T00:00:00Z' }, now));
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => now);
    await postAt('2026-06-10T10:00:00Z', s4({ 'conversion-value': 12 }));
    await postAt('2026-06-10T10:00:00Z', s4({ 'conversion-value': 63 }));
    await postAt('2026-06-10T10:00:00Z', s4({}));
    const { body } = await report('from=2026-06-10&to=2026-06-10');
    expect(body.rows[0]).toMatchObject({ verified: 3, null_values: 1, revenue_min: 50.99, revenue_max: 509.99, currency: 'USD' });
    const events = await report('from=2026-06-10&to=2026-06-10&group_by=event', 'events');
    expect(events.body.rows).toEqual([{ event: 'purchase', postbacks: 2, count_min: 3, count_max: 11 }]);
    const histogram = await report('from=2026-06-10&to=2026-06-10&group_by=conversion_value');
    expect(histogram.body.rows.map((r: { conversion_value: number | null; verified: number }) => [r.conversion_value, r.verified])).toEqual([
      [null, 1],
      [12, 1],
      [63, 1],
    ]);
  });
});

describe('large revenue', () => {
  // 10^13 rupiah per postback is possible; three of them would overflow revenue kept in micros.
  const rupiah = { effective_from: '2026-01-01T00:00:00Z', currency: 'IDR', fine: [{ from: 0, to: 63, revenue: { min: 4_999_999_999_999.99, max: 5e12 } }] };

  it('sums exactly to the cent instead of failing, in JSON and CSV', async () => {
    const saved = await app.app.request('/v1/apps/100/schemas', { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(rupiah) });
    expect(saved.status).toBe(201);
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => now);
    for (let i = 0; i < 3; i++) await postAt('2026-06-10T10:00:00Z', s4({ 'conversion-value': 12 }));
    const json = await report('from=2026-06-10&to=2026-06-10');
    expect(json.status).toBe(200);
    expect(json.body.rows[0]).toMatchObject({ revenue_min: 14_999_999_999_999.97, revenue_max: 15e12, currency: 'IDR' });
    const csv = await report('from=2026-06-10&to=2026-06-10&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.body).toContain(',14999999999999.97,15000000000000,IDR,');
  });

  it.each([[1e308], [1e13 + 1], [-1]])('refuses a schema whose revenue bound is %d, naming the field', async (max) => {
    const body = JSON.stringify({ ...rupiah, fine: [{ from: 0, to: 63, revenue: { min: 0, max } }] });
    const r = await app.app.request('/v1/apps/100/schemas', { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body });
    expect(r.status).toBe(400);
    expect((await r.json()).problems).toContainEqual({ field: 'fine.0.revenue.max', reason: expect.any(String) });
  });
});

describe('time zones', () => {
  it('days are exact for +05:30, +05:45 and a DST change', () => {
    const [kolkata] = daysInZone(new Date(2026, 5, 10), new Date(2026, 5, 10), 'Asia/Kolkata');
    expect(new Date(kolkata!.lo * 900_000).toISOString()).toBe('2026-06-09T18:30:00.000Z');
    const [kathmandu] = daysInZone(new Date(2026, 5, 10), new Date(2026, 5, 10), 'Asia/Kathmandu');
    expect(new Date(kathmandu!.lo * 900_000).toISOString()).toBe('2026-06-09T18:15:00.000Z');
    const [springForward, fallBack] = [
      daysInZone(new Date(2026, 2, 8), new Date(2026, 2, 8), 'America/Los_Angeles')[0]!,
      daysInZone(new Date(2026, 10, 1), new Date(2026, 10, 1), 'America/Los_Angeles')[0]!,
    ];
    expect((springForward.hi - springForward.lo) / 4).toBe(23);
    expect((fallBack.hi - fallBack.lo) / 4).toBe(25);
  });

  it('puts a postback on the day it falls on in the zone asked for', async () => {
    await postAt('2026-06-10T18:20:00Z', s4({})); // 23:50 in Kolkata, 00:05 on the 11th in Kathmandu
    await postAt('2026-06-10T18:40:00Z', s4({})); // 00:10 on the 11th in Kolkata
    const rows = async (tz: string) =>
      (await report(`from=2026-06-10&to=2026-06-11&tz=${tz}&group_by=date`)).body.rows.map((r: { date: string; verified: number }) => [r.date, r.verified]);
    expect(await rows('Asia/Kolkata')).toEqual([
      ['2026-06-10', 1],
      ['2026-06-11', 1],
    ]);
    expect(await rows('Asia/Kathmandu')).toEqual([['2026-06-11', 2]]);
    expect(await rows('UTC')).toEqual([['2026-06-10', 2]]);
  });

  it('counts a DST day with its 25 hours', async () => {
    await postAt('2026-11-01T07:30:00Z', s4({})); // 00:30 PDT on Nov 1
    await postAt('2026-11-02T07:30:00Z', s4({})); // 23:30 PST on Nov 1
    await postAt('2026-11-02T08:30:00Z', s4({})); // 00:30 PST on Nov 2
    const { body } = await report('from=2026-11-01&to=2026-11-02&tz=America/Los_Angeles&group_by=date');
    expect(body.rows.map((r: { date: string; verified: number }) => [r.date, r.verified])).toEqual([
      ['2026-11-01', 2],
      ['2026-11-02', 1],
    ]);
  });
});

describe('date basis and filling days', () => {
  it('install basis moves each postback back by its window end and mean delay', async () => {
    await postAt('2026-06-10T12:00:00Z', s4({})); // window 0: 84 h earlier → 2026-06-07
    await postAt('2026-06-10T12:00:00Z', s4({ 'postback-sequence-index': 1 })); // 252 h → 2026-05-31
    await postAt('2026-06-10T12:00:00Z', signSkan(skanBody('3.0', { 'app-id': 100 }), key, '3.0')); // 60 h → 2026-06-08
    const { body } = await report('from=2026-05-25&to=2026-06-10&date_basis=install&group_by=date,window');
    expect(body.rows.map((r: { date: string; window: number }) => [r.date, r.window])).toEqual([
      ['2026-05-31', 1],
      ['2026-06-07', 0],
      ['2026-06-08', 0],
    ]);
    expect(body.meta).toMatchObject({ date_basis: 'install', group_by: ['date', 'window'], complete: false });
  });

  it('flags days that are still filling', async () => {
    await postAt('2026-06-10T12:00:00Z', s4({}));
    now = new Date('2026-06-20T12:00:00Z');
    const arrival = await report('from=2026-06-10&to=2026-06-10&group_by=date');
    expect(arrival.body.rows[0].complete).toBe(true);
    const install = await report('from=2026-06-07&to=2026-06-07&date_basis=install&group_by=date');
    expect(install.body.rows[0].complete).toBe(false); // postbacks for June 7 installs arrive until mid-July
    now = new Date('2026-07-19T00:00:00Z');
    expect((await report('from=2026-06-07&to=2026-06-07&date_basis=install&group_by=date')).body.rows[0].complete).toBe(true);
  });
});

describe('formats and errors', () => {
  it('CSV: header of group_by columns in the order asked, then the metrics in order', async () => {
    await postAt('2026-06-10T12:00:00Z', s4({ 'source-identifier': '1201' }));
    const { body, headers } = await report('from=2026-06-10&to=2026-06-10&group_by=window,campaign&format=csv');
    expect(headers.get('content-type')).toContain('text/csv');
    const [header, row] = (body as string).split('\r\n');
    expect(header).toBe(
      'window,campaign,postbacks,verified,installs,redownloads,reengagements,non_winning,window_0,window_1,window_2,null_values,null_rate,coarse_low,coarse_medium,coarse_high,revenue_min,revenue_max,currency,conflicts,invalid,unverifiable,campaign_name',
    );
    expect(row).toBe('0,01,1,1,1,0,0,0,1,0,0,1,1,0,0,0,0,0,,0,0,0,');
  });

  it('filters on dimensions, with null for absent', async () => {
    await postAt('2026-06-10T12:00:00Z', s4({ 'country-code': 'FR' }));
    await postAt('2026-06-10T12:00:00Z', s4({}));
    const count = async (q: string) => (await report(`from=2026-06-10&to=2026-06-10&${q}`)).body.rows[0].verified;
    expect(await count('country_code=FR')).toBe(1);
    expect(await count('country_code=null')).toBe(1);
    expect(await count('country_code=FR,null')).toBe(2);
    expect(await count('redownload=false&did_win=true&window=0&protocol=skan')).toBe(2);
    expect(await count('app_id=999')).toBe(0);
  });

  it.each([
    ['group_by=colour', 'group_by', /unknown dimension "colour"/],
    ['group_by=date,date', 'group_by', /appears twice/],
    ['from=2026-13-01', 'from', /YYYY-MM-DD/],
    ['from=2026-06-10&to=2026-06-01', 'to', /before from/],
    ['from=2020-01-01&to=2026-01-01', 'from', /at most 400 days/],
    ['tz=Mars/Olympus', 'tz', /IANA time zone/],
    ['date_basis=click', 'date_basis', /arrival or install/],
    ['window=7', 'window', /one of 0, 1, 2/],
    ['app_id=abc', 'app_id', /integer/],
    ['redownload=yes', 'redownload', /true or false/],
    ['appid=1', 'appid', /unknown parameter/],
    ['format=xml', 'format', /json or csv/],
    ['event=purchase', 'event', /unknown parameter/],
  ])('%s → 400 naming %s', async (query, param, message) => {
    const { status, body } = await report(query);
    expect(status).toBe(400);
    expect(body).toMatchObject({ reason: 'invalid_parameter', parameter: param });
    expect(body.detail).toMatch(message);
  });
});

describe('size limit', () => {
  it(`refuses a report of more than ${(100_000).toLocaleString('en')} rows with a 400 that says how to narrow it`, async () => {
    // 100,001 distinct source identifiers on one day, written straight into the aggregates.
    app.database.sqlite.exec(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
      INSERT INTO rollups (arrival_bucket, install_bucket, protocol, environment, signature, ad_network_id, app_id, campaign, campaign_name,
        network_campaign_id, source_identifier, window, fidelity_type, redownload, did_win, version, conversion_type, ad_interaction_type, country_code, conversion_value,
        coarse_conversion_value, source_app_id, source_domain, currency, postbacks, verified)
      SELECT ${Math.floor(Date.parse('2026-06-01T12:00:00Z') / 900_000)}, 0, 'skan', 'production', 'verified', 'n', 100, '', '', '', 's' || i, 0, -1, -1, -1, '4.0', '', '', '', -1, '', -1, '', '', 1, 1 FROM n`);
    const tooMany = await report('from=2026-06-01&to=2026-06-01&group_by=source_identifier');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ type: expect.stringContaining('too_many_rows'), detail: expect.stringContaining('narrow') });
    app.database.sqlite.exec(`DELETE FROM rollups WHERE source_identifier = 's0'`);
    const fits = await report('from=2026-06-01&to=2026-06-01&group_by=source_identifier&format=csv');
    expect(fits.status).toBe(200);
    expect((fits.body as string).trimEnd().split('\n')).toHaveLength(100_001);
  });
});
