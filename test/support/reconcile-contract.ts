// Discrepancies and copy reconciliation end to end, written once and run through the whole HTTP app
// on Node (test/reconcile.test.ts) and inside workerd on D1 (test/workers/reconcile.test.ts):
// uploads (JSON, CSV, replace, bad rows), every column of both reports on hand-built data whose
// right answers are stated here, a time zone whose days differ from UTC, incomplete SKAN days, every
// status, relay keys and a relayed copy with a changed conversion value. Runtime-neutral.
import { beforeEach, describe, expect, it } from 'vitest';
import { generateWebKey, skan4Postback, type WebKey } from './web-signing.js';

export interface ReconcileHarness {
  /** A request with the admin key unless `headers` carries an authorization; JSON bodies are serialised. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  clock: { ms: number };
  /** Builds a fresh app on an empty database that trusts `extraKeys` (SKANPOST_EXTRA_KEYS), with SKANPOST_ALLOWLIST as given. */
  reset(extraKeys: string, allowlist?: string): Promise<void>;
  /** Headers a trusted proxy in front of this runtime sets for a client at `ip`. */
  fromAddress(ip: string): Record<string, string>;
  /** Waits until every click answered so far is written. */
  settleClicks(): Promise<void>;
}

const APP = 1_234_567;
const NET = 'net.skadnetwork';
const SKAN = '/.well-known/skadnetwork/report-attribution/';
const DAY = '2026-11-10';
const AT = (time: string) => Date.parse(`${DAY}T${time}Z`);
/** Long after the days asked about: every day is complete whatever the basis. */
const LATER = Date.parse('2026-12-20T00:00:00Z');

type Json = Record<string, unknown>;

export function reconcileContract(name: string, harness: () => ReconcileHarness): void {
  let h: ReconcileHarness;
  let key: WebKey;

  const json = async <T = Json>(r: Response | Promise<Response>, status: number): Promise<T> => {
    const response = await r;
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return (text ? JSON.parse(text) : null) as T;
  };
  /** A verified SKAN 4.0 window-0 postback of the campaign `source` (its last two digits). */
  const postback = (source: string, overrides: Json = {}) => skan4Postback(key, { 'ad-network-id': NET, 'source-identifier': source, 'app-id': APP, ...overrides });
  /** Posts at the harness's clock; `headers` for a relay key. */
  const ingest = (body: Json, headers: Record<string, string> = {}) => h.call('POST', SKAN, body, { authorization: '', ...headers });
  const postAt = async (ms: number, body: Json, headers: Record<string, string> = {}) => {
    h.clock.ms = ms;
    return json(ingest(body, headers), 200);
  };
  const upload = (body: unknown, contentType = 'application/json') =>
    h.call('POST', '/v1/reported', typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': contentType });
  const report = async <T = Json>(path: string, query: string) => await json<{ rows: T[]; meta: Json }>(h.call('GET', `${path}?${query}`), 200);
  const discrepancies = (query: string) => report('/v1/reports/discrepancies', query);
  const copies = (query: string) => report('/v1/reports/copies', query);

  const mapping = (source_identifier: string, network_campaign_id: string) =>
    json(h.call('POST', '/v1/campaigns', { ad_network_id: NET, app_id: APP, source_identifier, name: `Campaign ${source_identifier}`, network_campaign_id }), 201);

  /** MMP installs through a custom partner and a link of network campaign `nc-39`: `accepted` clicks, plus one fraud-rejected and one unattributed. */
  async function mmpInstalls(accepted: number, at: number, event?: { name: string; revenue: string; currency: string }) {
    const partner = await json<{ id: number; token: string }>(h.call('POST', '/v1/mmp-partners', { name: 'mmp', preset: 'custom' }), 201);
    const link = await json<{ id: number }>(
      h.call('POST', '/v1/links', {
        name: 'Spring',
        app_id: APP,
        ad_network_id: NET,
        network_campaign_id: 'nc-39',
        mmp_partner_id: partner.id,
        target_url: 'https://mmp.example/c?clickid={click_id}',
      }),
      201,
    );
    const send = (params: Record<string, string>) =>
      h.call('GET', `/mmp/${partner.id}?${new URLSearchParams({ token: partner.token, ...params })}`, undefined, { authorization: '' });
    const seconds = String(Math.floor(at / 1000));
    h.clock.ms = at - 60_000;
    const clickIds: string[] = [];
    for (let i = 0; i < accepted; i++) {
      const r = await h.call('GET', `/c/${link.id}`, undefined, { authorization: '' });
      clickIds.push(new URL(r.headers.get('location')!).searchParams.get('clickid')!);
    }
    await h.settleClicks();
    h.clock.ms = at;
    for (const click_id of clickIds) {
      expect(await json(send({ click_id, event_name: 'install', app_id: String(APP), install_time: seconds }), 200)).toMatchObject({ outcome: 'accepted' });
      if (event) {
        const sent = { click_id, event_name: event.name, event_id: `${click_id}-1`, event_time: seconds, revenue: event.revenue, currency: event.currency };
        expect(await json(send(sent), 200)).toMatchObject({ outcome: 'accepted' });
      }
    }
    expect(await json(send({ click_id: 'fraud', event_name: 'install', app_id: String(APP), install_time: seconds, rejected: '1' }), 200)).toMatchObject({
      outcome: 'fraud_rejected',
    });
    expect(await json(send({ event_name: 'install', app_id: String(APP), install_time: seconds, attributed: '0', event_id: 'u-1' }), 200)).toMatchObject({
      outcome: 'unattributed',
    });
  }

  describe(`discrepancies and copies on ${name}`, () => {
    beforeEach(async () => {
      h = harness();
      key ??= await generateWebKey();
      h.clock.ms = AT('00:00:00');
      await h.reset(key.spkiBase64);
    });

    describe('figures reported elsewhere', () => {
      const row = (overrides: Json = {}) => ({
        source: 'network',
        date: DAY,
        tz: 'UTC',
        app_id: APP,
        ad_network_id: NET,
        campaign: '39',
        metric: 'installs',
        value: 11,
        ...overrides,
      });

      it('stores a JSON array and CSV, replaces a row of the same key, lists with filters and pages, deletes by source and days', async () => {
        expect(await json(upload([row(), row({ date: '2026-11-11', value: 7 })]), 200)).toEqual({ received: 2, stored: 2 });
        const csv = [
          'source,date,tz,app_id,ad_network_id,network_campaign_id,metric,event,value,currency',
          `appsflyer,${DAY},UTC,${APP},${NET},"nc,39",revenue,,"1234.5",EUR`,
          `appsflyer,${DAY},UTC,${APP},${NET},nc-39,events,purchase,3,`,
          '',
        ].join('\r\n');
        expect(await json(upload(csv, 'text/csv'), 200)).toEqual({ received: 2, stored: 2 });
        // The same day again: replaced, not added.
        expect(await json(upload([row({ value: 12 })]), 200)).toEqual({ received: 1, stored: 1 });
        const all = await json<{ reported: Json[]; next_cursor: number | null }>(h.call('GET', '/v1/reported'), 200);
        expect(all.reported).toHaveLength(4);
        expect(all.reported.find((r) => r.source === 'network' && r.date === DAY)).toMatchObject({ value: 12, campaign: '39', network_campaign_id: null, event: null });
        expect(all.reported.find((r) => r.metric === 'revenue')).toMatchObject({ value: 1234.5, currency: 'EUR', network_campaign_id: 'nc,39', campaign: null });
        const page = await json<{ reported: Json[]; next_cursor: number }>(h.call('GET', '/v1/reported?limit=3'), 200);
        expect(page.reported).toHaveLength(3);
        const rest = await json<{ reported: Json[]; next_cursor: null }>(h.call('GET', `/v1/reported?limit=3&cursor=${page.next_cursor}`), 200);
        expect(rest).toMatchObject({ reported: [expect.any(Object)], next_cursor: null });
        expect((await json<{ reported: Json[] }>(h.call('GET', '/v1/reported?source=appsflyer&metric=events'), 200)).reported).toEqual([
          expect.objectContaining({ event: 'purchase', value: 3 }),
        ]);
        expect(await json(h.call('GET', '/v1/reported?sauce=x'), 400)).toMatchObject({ reason: 'invalid_parameter', parameter: 'sauce' });

        expect(await json(h.call('DELETE', `/v1/reported?source=network&from=${DAY}&to=${DAY}`), 200)).toEqual({ deleted: 1 });
        expect(await json(h.call('DELETE', '/v1/reported?source=appsflyer'), 200)).toEqual({ deleted: 2 });
        expect((await json<{ reported: Json[] }>(h.call('GET', '/v1/reported'), 200)).reported.map((r) => r.date)).toEqual(['2026-11-11']);
        expect(await json(h.call('DELETE', '/v1/reported'), 400)).toMatchObject({ parameter: 'source' });
      });

      it('refuses an upload with any bad row, naming each by line and field, and stores none of it', async () => {
        const csv = [
          'source,date,tz,app_id,ad_network_id,campaign,metric,value',
          `network,${DAY},UTC,${APP},${NET},39,installs,5`,
          `skan,2026-02-30,Mars/Olympus,x,${NET},39,installs,1.5`,
          `network,${DAY},UTC,${APP},${NET},39,clicks,-1`,
        ].join('\n');
        const bad = await json<{ reason: string; problems: Array<{ line: number; field: string; reason: string }>; problems_total: number }>(upload(csv, 'text/csv'), 400);
        expect(bad.reason).toBe('invalid_body');
        expect(bad.problems.map((p) => [p.line, p.field])).toEqual([
          [3, 'source'],
          [3, 'date'],
          [3, 'tz'],
          [3, 'app_id'],
          [4, 'metric'],
          [4, 'value'],
        ]);
        expect(bad.problems[0]!.reason).toContain('skan and mmp');
        const json400 = await json<{ problems: Array<{ line: number; field: string }> }>(
          upload([row(), row({ campaign: undefined }), row({ network_campaign_id: 'nc-1' }), row({ metric: 'revenue', value: 3 }), row({ extra: 1 })]),
          400,
        );
        expect(json400.problems.map((p) => [p.line, p.field])).toEqual([
          [2, 'campaign'],
          [3, 'network_campaign_id'],
          [4, 'currency'],
          [5, 'extra'],
        ]);
        expect((await json<{ problems: Array<{ field: string }> }>(upload('source,date,colour\n', 'text/csv'), 400)).problems.map((p) => p.field)).toEqual([
          'colour',
          'tz',
          'app_id',
          'ad_network_id',
          'metric',
          'value',
          'campaign',
        ]);
        expect(await json(upload('{"not": "an array"}'), 400)).toMatchObject({ reason: 'invalid_body' });
        expect(await json(upload(`source\n${'x'.repeat(8 * 1024 * 1024)}`, 'text/csv'), 413)).toMatchObject({ reason: 'body_too_large' });
        expect((await json<{ reported: Json[] }>(h.call('GET', '/v1/reported'), 200)).reported).toEqual([]);
      });

      it('holds a scoped key to its apps: no upload outside them, no rows of others listed', async () => {
        await json(upload([row(), row({ app_id: 999 })]), 200);
        const scoped = await json<{ secret: string }>(h.call('POST', '/v1/keys', { name: 'one app', role: 'admin', app_ids: [APP] }), 201);
        const as = { authorization: `Bearer ${scoped.secret}` };
        expect((await json<{ reported: Json[] }>(h.call('GET', '/v1/reported', undefined, as), 200)).reported.map((r) => r.app_id)).toEqual([APP]);
        expect(await json(h.call('POST', '/v1/reported', JSON.stringify([row({ app_id: 999, value: 1 })]), as), 403)).toMatchObject({ reason: 'out_of_scope' });
        expect(await json(h.call('DELETE', '/v1/reported?source=network', undefined, as), 200)).toEqual({ deleted: 1 });
        expect((await json<{ reported: Json[] }>(h.call('GET', '/v1/reported'), 200)).reported.map((r) => r.app_id)).toEqual([999]);
      });
    });

    describe('the discrepancy report', () => {
      /**
       * SKAN: ten installs of campaign 39 and two of campaign 40 arrive on the day, besides a
       * non-winning and a redownload that count as no install. MMP: four accepted installs on
       * nc-39 (campaign 39), one fraud-rejected and one unattributed (no click: no campaign).
       * Uploads: the network says 11 on nc-39; AppsFlyer 4 on campaign 39; a row in another zone.
       */
      async function scenario() {
        await mapping('39', 'nc-39');
        await mapping('40', 'nc-40');
        for (let i = 0; i < 10; i++) await postAt(AT(`10:0${i}:00`), await postback('5239'));
        for (let i = 0; i < 2; i++) await postAt(AT(`11:0${i}:00`), await postback('1240'));
        await postAt(AT('12:00:00'), await postback('5239', { 'did-win': false }));
        await postAt(AT('12:01:00'), await postback('5239', { redownload: true }));
        await mmpInstalls(4, AT('09:00:00'));
        await json(
          upload([
            { source: 'network', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, network_campaign_id: 'nc-39', metric: 'installs', value: 11 },
            { source: 'appsflyer', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'installs', value: 4 },
            { source: 'network', date: DAY, tz: 'America/New_York', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'installs', value: 1000 },
          ]),
          200,
        );
        h.clock.ms = LATER;
      }
      const range = `from=2026-11-09&to=2026-11-11&skan_date_basis=arrival`;

      it('shows every source side by side with its gap to the reference, the opt-in share and the status', async () => {
        await scenario();
        const { rows, meta } = await discrepancies(`${range}&group_by=date,network_campaign_id`);
        expect(rows).toEqual([
          {
            date: DAY,
            network_campaign_id: null,
            skan_installs: 0,
            skan_complete: true,
            mmp_installs: 0,
            mmp_fraud_rejected: 1,
            mmp_unattributed: 1,
            reported_appsflyer_installs: null,
            reported_network_installs: null,
            reference: 'network',
            skan_gap_pct: null,
            mmp_gap_pct: null,
            appsflyer_gap_pct: null,
            opt_in_share: null,
            status: 'no_reference',
          },
          {
            date: DAY,
            network_campaign_id: 'nc-39',
            skan_installs: 10,
            skan_complete: true,
            mmp_installs: 4,
            mmp_fraud_rejected: 0,
            mmp_unattributed: 0,
            reported_appsflyer_installs: 4,
            reported_network_installs: 11,
            reference: 'network',
            skan_gap_pct: -9.1,
            mmp_gap_pct: -63.6,
            appsflyer_gap_pct: -63.6,
            opt_in_share: 0.4,
            status: 'over_threshold',
          },
          expect.objectContaining({ network_campaign_id: 'nc-40', skan_installs: 2, reported_network_installs: null, status: 'no_reference' }),
        ]);
        expect(meta).toMatchObject({ reference: 'network', threshold_pct: 10, sources: ['skan', 'mmp', 'appsflyer', 'network'], skipped_reported_rows: 1, complete: true });

        // A wider threshold: AppsFlyer's gap is within it, MMP's never counts (opt-in share).
        const wide = await discrepancies(`${range}&group_by=campaign&threshold_pct=70`);
        expect(wide.rows.find((r) => r.campaign === '39')).toMatchObject({ skan_installs: 10, reported_network_installs: 11, status: 'ok' });
        // SKAN as the reference: every uploaded source gets its gap to it.
        const bySkan = await discrepancies(`${range}&group_by=campaign&reference=skan`);
        expect(bySkan.rows.find((r) => r.campaign === '39')).toMatchObject({
          reference: 'skan',
          mmp_gap_pct: -60,
          appsflyer_gap_pct: -60,
          network_gap_pct: 10,
          status: 'over_threshold',
        });
        expect(bySkan.rows.find((r) => r.campaign === '40')).toMatchObject({ skan_installs: 2, network_gap_pct: null, status: 'ok' });
        // One row of totals without group_by; CSV has the same columns and values.
        const totals = await discrepancies(range);
        expect(totals.rows).toEqual([expect.objectContaining({ skan_installs: 12, mmp_installs: 4, mmp_fraud_rejected: 1, mmp_unattributed: 1, reported_network_installs: 11 })]);
        const csv = await h.call('GET', `/v1/reports/discrepancies?${range}&group_by=campaign&format=csv`);
        expect(csv.headers.get('content-type')).toContain('text/csv');
        const lines = (await csv.text()).trimEnd().split('\r\n');
        expect(lines[0]).toBe(
          'campaign,skan_installs,skan_complete,mmp_installs,mmp_fraud_rejected,mmp_unattributed,reported_appsflyer_installs,reported_network_installs,reference,skan_gap_pct,mmp_gap_pct,appsflyer_gap_pct,opt_in_share,status',
        );
        expect(lines).toContain('39,10,true,4,0,0,4,11,network,-9.1,-63.6,-63.6,0.4,over_threshold');
      });

      it('counts days in the report time zone: SKAN by its zone day, uploads only in that zone', async () => {
        await mapping('39', 'nc-39');
        // 23:30 UTC on the 10th is the 11th in Tokyo.
        for (let i = 0; i < 3; i++) await postAt(AT(`23:3${i}:00`), await postback('5239'));
        await json(
          upload([
            { source: 'network', date: '2026-11-11', tz: 'Asia/Tokyo', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'installs', value: 3 },
            { source: 'network', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'installs', value: 3 },
          ]),
          200,
        );
        h.clock.ms = LATER;
        const tokyo = await discrepancies('from=2026-11-10&to=2026-11-11&tz=Asia/Tokyo&skan_date_basis=arrival&group_by=date');
        expect(tokyo.rows.map((r) => [r.date, r.skan_installs, r.reported_network_installs, r.status])).toEqual([['2026-11-11', 3, 3, 'ok']]);
        expect(tokyo.meta.skipped_reported_rows).toBe(1);
        const utc = await discrepancies('from=2026-11-10&to=2026-11-11&skan_date_basis=arrival&group_by=date');
        expect(utc.rows.map((r) => [r.date, r.skan_installs, r.reported_network_installs])).toEqual([[DAY, 3, 3]]);
      });

      it('marks SKAN days still filling as incomplete, by install date until the model says no window-0 postback can come', async () => {
        await mapping('39', 'nc-39');
        for (let i = 0; i < 4; i++) await postAt(AT(`10:0${i}:00`), await postback('5239'));
        await json(upload([{ source: 'network', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'installs', value: 4 }]), 200);
        h.clock.ms = AT('18:00:00');
        const arrival = await discrepancies(`from=${DAY}&to=${DAY}&skan_date_basis=arrival`);
        expect(arrival.rows).toEqual([expect.objectContaining({ skan_installs: 4, skan_complete: false, status: 'incomplete' })]);
        // Installs are estimated a day or more before arrival: the day the installs are dated by is still filling too.
        const install = await discrepancies(`from=2026-11-01&to=${DAY}&group_by=date`);
        expect(install.rows.every((r) => r.skan_complete === false)).toBe(true);
        expect(install.meta.skan_date_basis).toBe('install');
        h.clock.ms = Date.parse('2026-11-11T00:00:00Z');
        expect((await discrepancies(`from=${DAY}&to=${DAY}&skan_date_basis=arrival`)).rows).toEqual([expect.objectContaining({ skan_complete: true, status: 'ok' })]);
      });

      it('compares events and revenue the same way, with the currency', async () => {
        await mapping('39', 'nc-39');
        const schema = {
          effective_from: '2026-01-01T00:00:00Z',
          currency: 'EUR',
          fine: [{ from: 10, to: 10, events: [{ name: 'purchase', min: 1, max: 2 }], revenue: { min: 1, max: 5 } }],
        };
        await json(h.call('POST', `/v1/apps/${APP}/schemas`, schema), 201);
        for (let i = 0; i < 3; i++) await postAt(AT(`10:0${i}:00`), await postback('5239', { 'conversion-value': 10 }));
        await mmpInstalls(2, AT('09:00:00'), { name: 'purchase', revenue: '4.50', currency: 'EUR' });
        await json(
          upload([
            { source: 'network', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'events', event: 'purchase', value: 4 },
            { source: 'network', date: DAY, tz: 'UTC', app_id: APP, ad_network_id: NET, campaign: '39', metric: 'revenue', value: 12, currency: 'EUR' },
          ]),
          200,
        );
        h.clock.ms = LATER;
        const events = await discrepancies(`${range}&group_by=campaign&metric=events&event=purchase`);
        expect(events.rows.find((r) => r.campaign === '39')).toEqual({
          campaign: '39',
          skan_events: 3,
          skan_events_max: 6,
          skan_complete: true,
          mmp_events: 2,
          reported_network_events: 4,
          reference: 'network',
          skan_gap_pct: 0,
          mmp_gap_pct: -50,
          status: 'ok',
        });
        const revenue = await discrepancies(`${range}&group_by=campaign&metric=revenue`);
        expect(revenue.rows.find((r) => r.campaign === '39')).toEqual({
          campaign: '39',
          skan_revenue_min: 3,
          skan_revenue_max: 15,
          skan_complete: true,
          mmp_revenue: 9,
          reported_network_revenue: 12,
          currency: 'EUR',
          reference: 'network',
          skan_gap_pct: 0,
          mmp_gap_pct: -25,
          status: 'ok',
        });
        expect(await json(h.call('GET', `/v1/reports/discrepancies?${range}&event=purchase`), 400)).toMatchObject({ parameter: 'event' });
        expect(await json(h.call('GET', `/v1/reports/discrepancies?${range}&date_basis=arrival`), 400)).toMatchObject({ parameter: 'date_basis' });
      });

      it('holds a scoped key to its scope', async () => {
        await scenario();
        const scoped = await json<{ secret: string }>(h.call('POST', '/v1/keys', { name: 'other', role: 'analyst', app_ids: [42] }), 201);
        const as = { authorization: `Bearer ${scoped.secret}` };
        const r = await json<{ rows: Json[]; meta: Json }>(h.call('GET', `/v1/reports/discrepancies?${range}`, undefined, as), 200);
        expect(r.rows).toEqual([expect.objectContaining({ skan_installs: 0, mmp_installs: 0, status: 'no_reference' })]);
        expect(r.meta.skipped_reported_rows).toBe(0);
        expect((await h.call('GET', `/v1/reports/discrepancies?${range}&app_id=${APP}`, undefined, as)).status).toBe(403);
      });
    });

    describe('copy reconciliation', () => {
      const relayKey = async (name: string, adNetworkId?: string) =>
        json<{ id: number; key: string; channel: string }>(h.call('POST', '/v1/relay-keys', { name, ...(adNetworkId ? { ad_network_id: adNetworkId } : {}) }), 201);

      it('creates relay keys whose secret is shown once, refuses a wrong key and a key of another network, and stores nothing then', async () => {
        const bound = await relayKey('net-a', NET);
        expect(bound).toMatchObject({ channel: 'relay:net-a', key: expect.stringMatching(/^skr_/) });
        const listed = await json<{ relay_keys: Json[] }>(h.call('GET', '/v1/relay-keys'), 200);
        expect(listed.relay_keys).toEqual([expect.objectContaining({ id: bound.id, name: 'net-a', ad_network_id: NET })]);
        expect(JSON.stringify(listed)).not.toContain(bound.key);
        expect(await json(h.call('POST', '/v1/relay-keys', { name: 'net-a' }), 400)).toMatchObject({ problems: [expect.objectContaining({ field: 'name' })] });

        const body = await postback('5239');
        expect(await json(ingest(body, { authorization: 'Bearer skr_wrong' }), 401)).toMatchObject({ reason: 'invalid_relay_key' });
        expect(await json(h.call('POST', `${SKAN}?relay_key=skr_wrong`, body, { authorization: '' }), 401)).toMatchObject({ reason: 'invalid_relay_key' });
        const other = await postback('5239', { 'ad-network-id': 'other.skadnetwork' });
        expect(await json(ingest(other, { authorization: `Bearer ${bound.key}` }), 403)).toMatchObject({ reason: 'relay_network_mismatch' });
        h.clock.ms = LATER;
        expect((await copies('from=2026-11-01&to=2026-12-31')).rows).toEqual([expect.objectContaining({ transactions: 0 })]);

        // Deleting the key ends its relays.
        expect((await h.call('DELETE', `/v1/relay-keys/${bound.id}`)).status).toBe(204);
        expect((await ingest(body, { authorization: `Bearer ${bound.key}` })).status).toBe(401);
      });

      it('lets a relay key in from outside SKANPOST_ALLOWLIST, where a direct copy is refused', async () => {
        await h.reset(key.spkiBase64, '17.0.0.0/8');
        const relay = await relayKey('net-a');
        const body = await postback('5239');
        const outside = h.fromAddress('203.0.113.7');
        expect(await json(ingest(body, outside), 403)).toMatchObject({ reason: 'not_allowed' });
        expect(await json(ingest(body, { ...outside, authorization: `Bearer ${relay.key}` }), 200)).toMatchObject({ outcome: 'stored', signature: 'verified' });
        expect((await ingest(await postback('5239'), h.fromAddress('17.1.2.3'))).status).toBe(200);
      });

      it('counts each transaction once by how its copies came, flags a changed conversion value, and times the relays', async () => {
        const a = await relayKey('net-a', NET);
        const b = await relayKey('net-b');
        const viaA = { authorization: `Bearer ${a.key}` };
        // 1: direct, then relayed by A 60 s later, byte for byte: one postback, both channels.
        const t1 = await postback('5239', { 'conversion-value': 5 });
        const first = await postAt(AT('10:00:00'), t1);
        expect(await postAt(AT('10:01:00'), t1, viaA)).toEqual({ ...first, outcome: 'duplicate' });
        // 2: direct, then relayed by B 120 s later with another conversion value (?relay_key=).
        const t2 = await postback('5239', { 'conversion-value': 5 });
        await postAt(AT('11:00:00'), t2);
        h.clock.ms = AT('11:02:00');
        expect((await json(h.call('POST', `${SKAN}?relay_key=${b.key}`, { ...t2, 'conversion-value': 63 }, { authorization: '' }), 200)).outcome).toBe('conflict');
        // 3: direct only. 4: relayed only (by A), the same postback relayed twice.
        await postAt(AT('12:00:00'), await postback('5239'));
        const t4 = await postback('5239');
        await postAt(AT('13:00:00'), t4, viaA);
        await postAt(AT('13:05:00'), t4, viaA);
        // An invalid copy is no transaction.
        await postAt(AT('14:00:00'), { ...(await postback('5239')), 'attribution-signature': 'MEUCIQ' });
        h.clock.ms = LATER;

        const range = 'from=2026-11-01&to=2026-11-30';
        expect((await copies(range)).rows).toEqual([
          {
            transactions: 4,
            direct: 3,
            relayed: 3,
            both: 2,
            direct_only: 1,
            relayed_only: 1,
            value_mismatch: 1,
            relay_delay_p50_s: 60,
            relay_delay_p95_s: 120,
            status: 'over_threshold',
          },
        ]);
        const byChannel = await copies(`${range}&group_by=channel`);
        expect(byChannel.rows.map((r) => [r.channel, r.transactions, r.both, r.direct_only, r.relayed_only, r.value_mismatch, r.relay_delay_p50_s])).toEqual([
          ['direct', 3, 2, 1, 0, 1, 60],
          ['relay:net-a', 2, 1, 0, 1, 0, 60],
          ['relay:net-b', 1, 1, 0, 0, 1, 120],
        ]);
        const byDay = await copies(`${range}&group_by=date,ad_network_id,app_id&tz=Pacific/Kiritimati`);
        // UTC+14: the whole UTC day is the 11th there.
        expect(byDay.rows).toEqual([expect.objectContaining({ date: '2026-11-11', ad_network_id: NET, app_id: APP, transactions: 4 })]);
        // Without the mismatch and with a threshold above the one-sided share (1 of 4), it would be ok.
        expect((await copies(`${range}&channel=relay:net-a&group_by=channel&threshold_pct=60`)).rows).toEqual([
          expect.objectContaining({ channel: 'relay:net-a', transactions: 2, value_mismatch: 0, status: 'ok' }),
        ]);
        const csv = await h.call('GET', `/v1/reports/copies?${range}&group_by=channel&format=csv`);
        expect((await csv.text()).split('\r\n')[1]).toBe('direct,3,3,2,2,1,0,1,60,120,over_threshold');
        expect(await json(h.call('GET', `/v1/reports/copies?${range}&group_by=campaign`), 400)).toMatchObject({ parameter: 'group_by' });
      });
    });
  });
}
