// The MMP loop end to end, written once and run through the whole HTTP app on Node
// (test/mmp.test.ts) and inside workerd on D1 (test/workers/mmp.test.ts): links and clicks, each
// preset's postback built from its own template, every row of the outcome table, rotations, the
// allowlist behind a proxy, CTIT buckets, click imports, relays and a report that adds up.
// Runtime-neutral: no Node modules.
import { beforeEach, describe, expect, it } from 'vitest';
import { mintClickId, readClickId } from '../../src/mmp/click-id.js';

export interface MmpHarness {
  /** A request to the app with the admin key (the open paths ignore it); JSON bodies are serialised. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  clock: { ms: number };
  /** Waits until every click answered so far is written (bounded by `ms`); resolves with the time it took. */
  settleClicks(): Promise<number>;
  /** Sends every due delivery of the outbox once. */
  sendDue(): Promise<void>;
  /** What the local receiver got, oldest first. */
  received(): Promise<Array<{ method: string; url: string; body: string }>>;
  receiverUrl: string;
  /** Headers a trusted proxy in front of this runtime sets for a client at `ip`. */
  fromAddress(ip: string): Record<string, string>;
  /** The same app on the same database with SKANPOST_CLICK_SECRET set to `secrets`. */
  withClickSecrets(secrets: string | undefined): Promise<void>;
  metricsText(): Promise<string>;
  /** Builds a fresh app on an empty database. */
  reset(): Promise<void>;
}

const APP_ID = 1_234_567_890;
const START = Date.parse('2026-11-20T10:00:00Z');

type Partner = { id: number; token: string; postback_url_templates: { install: string; event: string }; params: Record<string, string>; timestamp_format: string | null };

export function mmpContract(name: string, harness: () => MmpHarness): void {
  let h: MmpHarness;
  const json = async <T = Record<string, unknown>>(r: Response | Promise<Response>, status: number): Promise<T> => {
    const response = await r;
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return (text ? JSON.parse(text) : null) as T;
  };
  const partner = (input: Record<string, unknown>) => json<Partner>(h.call('POST', '/v1/mmp-partners', { name: 'the MMP', ...input }), 201);
  const link = (partnerId: number, input: Record<string, unknown> = {}) =>
    json<{ id: number; click_url: string }>(
      h.call('POST', '/v1/links', {
        name: 'Spring sale',
        app_id: APP_ID,
        ad_network_id: 'net.example.skadnetwork',
        network_campaign_id: 'nc-42',
        mmp_partner_id: partnerId,
        target_url: 'https://mmp.example/click?clickid={click_id}&campaign={campaign_name}&s1={sub1}&ts={timestamp}&app={app_id}&link={link_id}&nc={network_campaign_id}',
        ...input,
      }),
      201,
    );
  /** A click through /c: the click ID the MMP would be handed. */
  const click = async (linkId: number, query = '') => {
    const r = await h.call('GET', `/c/${linkId}${query}`, undefined, {});
    expect(r.status).toBe(302);
    return new URL(r.headers.get('location')!).searchParams.get('clickid')!;
  };
  const intake = (p: Partner, params: Record<string, string | number>, options: { token?: string; headers?: Record<string, string> } = {}) =>
    h.call(
      'GET',
      `/mmp/${p.id}?${new URLSearchParams({ token: options.token ?? p.token, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) })}`,
      undefined,
      options.headers ?? {},
    );
  const report = async (query: string) => (await json<{ rows: Array<Record<string, unknown>> }>(h.call('GET', `/v1/reports/mmp?from=2026-11-01&to=2026-12-31&${query}`), 200)).rows;
  const seconds = (ms: number) => Math.floor(ms / 1000);

  describe(`MMP postbacks on ${name}`, () => {
    beforeEach(async () => {
      h = harness();
      h.clock.ms = START;
      await h.reset();
    });

    it('redirects a click to the MMP with every macro URL-encoded, and counts it within 2 s; /i counts an impression', async () => {
      const p = await partner({ preset: 'appsflyer' });
      const l = await link(p.id);
      expect(l.click_url).toMatch(new RegExp(`/c/${l.id}$`));
      const r = await h.call('GET', `/c/${l.id}?sub1=${encodeURIComponent('a b&c=d')}&utm_source=ignored`, undefined, {});
      expect(r.status).toBe(302);
      const location = new URL(r.headers.get('location')!);
      expect(location.origin + location.pathname).toBe('https://mmp.example/click');
      expect(Object.fromEntries(location.searchParams)).toEqual({
        clickid: expect.stringMatching(/^[A-Za-z0-9_-]{50}$/),
        campaign: 'Spring sale',
        s1: 'a b&c=d',
        ts: String(seconds(START)),
        app: String(APP_ID),
        link: String(l.id),
        nc: 'nc-42',
      });
      expect(r.headers.get('location')).toContain('s1=a%20b%26c%3Dd');
      expect((await h.call('GET', `/i/${l.id}`, undefined, {})).status).toBe(204);
      expect(await h.settleClicks()).toBeLessThan(2000);
      expect(await report('group_by=link_id,touch_type,sub1')).toEqual([
        expect.objectContaining({ link_id: l.id, touch_type: 'click', sub1: 'a b&c=d', clicks: 1, impressions: 0, conversion_rate: 0 }),
        expect.objectContaining({ link_id: l.id, touch_type: 'impression', sub1: null, clicks: 0, impressions: 1, conversion_rate: null }),
      ]);
    });

    it('answers 404 for an unknown or disabled link and counts nothing; refuses a sub value over 100 characters', async () => {
      const p = await partner({ preset: 'adjust' });
      const l = await link(p.id);
      expect((await h.call('GET', '/c/999', undefined, {})).status).toBe(404);
      expect((await h.call('GET', '/c/abc', undefined, {})).status).toBe(404);
      await json(h.call('PATCH', `/v1/links/${l.id}`, { enabled: false }), 200);
      expect((await h.call('GET', `/c/${l.id}`, undefined, {})).status).toBe(404);
      expect((await h.call('GET', `/i/${l.id}`, undefined, {})).status).toBe(404);
      await json(h.call('PATCH', `/v1/links/${l.id}`, { enabled: true }), 200);
      const long = await h.call('GET', `/c/${l.id}?sub2=${'x'.repeat(101)}`, undefined, {});
      expect(long.status).toBe(400);
      expect(await long.json()).toMatchObject({ reason: 'invalid_parameter', parameter: 'sub2' });
      await h.settleClicks();
      // Without group_by, the one row of totals.
      expect(await report('')).toEqual([expect.objectContaining({ clicks: 0, impressions: 0, installs: 0 })]);
    });

    it('refuses a link with an unknown macro or no such partner, naming the field', async () => {
      const p = await partner({ preset: 'adjust' });
      const bad = await json<{ problems: Array<{ field: string; reason: string }> }>(
        h.call('POST', '/v1/links', {
          name: 'x',
          app_id: APP_ID,
          ad_network_id: 'n',
          network_campaign_id: 'c',
          mmp_partner_id: p.id,
          target_url: 'https://mmp.example/?c={clickid}',
        }),
        400,
      );
      expect(bad.problems[0]).toMatchObject({ field: 'target_url', reason: expect.stringContaining('{clickid}') });
      const orphan = await json<{ problems: Array<{ field: string }> }>(
        h.call('POST', '/v1/links', { name: 'x', app_id: APP_ID, ad_network_id: 'n', network_campaign_id: 'c', mmp_partner_id: 99, target_url: 'https://mmp.example/' }),
        400,
      );
      expect(orphan.problems[0]!.field).toBe('mmp_partner_id');
    });

    for (const preset of ['appsflyer', 'adjust', 'singular', 'branch', 'kochava', 'custom'] as const) {
      it(`accepts ${preset}'s install and event postbacks built from the generated templates`, async () => {
        const custom = preset === 'custom' ? { params: { click_id: 'cid', event_name: 'evt', revenue: 'amount_cents' }, revenue_unit: 'cents' } : {};
        const p = await partner({ preset, ...custom });
        for (const template of Object.values(p.postback_url_templates)) {
          expect(template).toContain(`/mmp/${p.id}?token=${encodeURIComponent(p.token)}`);
        }
        const l = await link(p.id);
        const clickId = await click(l.id);
        h.clock.ms += 90_000;
        const time = (ms: number) =>
          p.timestamp_format === 'unix_ms' ? String(ms) : p.timestamp_format === 'unix_s' ? String(seconds(ms)) : new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
        const values: Record<string, string> = {
          click_id: clickId,
          app_id: preset === 'appsflyer' ? `id${APP_ID}` : String(APP_ID),
          install_time: time(h.clock.ms),
          event_time: time(h.clock.ms),
          country_code: 'fr',
          event_name: 'purchase',
          event_id: 'e-1',
          revenue: preset === 'custom' ? '499' : '4.99',
          currency: 'EUR',
          event_value: '{"sku":"gem_pack"}',
        };
        // What the MMP does: fill each macro of the template, leave the rest as written.
        const fill = (template: string) => {
          const url = new URL(template);
          const fieldOf = Object.fromEntries(Object.entries(p.params).map(([field, param]) => [param, field]));
          for (const [param, value] of [...url.searchParams]) {
            if (param === 'token' || !/^[({$]/.test(value)) continue;
            url.searchParams.set(param, values[fieldOf[param] ?? param] ?? '');
          }
          return url.pathname + url.search;
        };
        const install = await json<{ id: number; outcome: string }>(h.call('GET', fill(p.postback_url_templates.install), undefined, {}), 200);
        expect(install.outcome).toBe('accepted');
        h.clock.ms += 3_600_000;
        values.event_time = time(h.clock.ms);
        expect((await json(h.call('GET', fill(p.postback_url_templates.event), undefined, {}), 200)).outcome).toBe('accepted');
        const stored = await json<{ country_code: string; app_id: number; ctit_seconds: number | null; raw: string }>(h.call('GET', `/v1/mmp-postbacks/${install.id}`), 200);
        // Branch's templates carry no country.
        expect(stored).toMatchObject({ country_code: preset === 'branch' ? null : 'FR', app_id: APP_ID, ctit_seconds: 90 });
        expect(stored.raw).not.toContain(p.token);
        await h.settleClicks();
        expect(await report('group_by=event')).toEqual([
          expect.objectContaining({ event: null, clicks: 1 }),
          expect.objectContaining({ event: 'install', installs: 1, ctit_1m_1h: 1 }),
          expect.objectContaining({ event: 'purchase', events: 1, revenue: 4.99, currency: 'EUR' }),
        ]);
      });
    }

    it('answers every row of the outcome table, and the report counts each where the table says', async () => {
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id, { click_lookback_days: 1 });
      const ok = (params: Record<string, string | number>) => json<{ id: number; outcome: string; reasons: string[] }>(intake(p, params), 200);
      const refused = async (params: Record<string, string | number>, reason: string) => {
        const body = await json<{ reason: string; id: number; outcome: string; reasons: string[] }>(intake(p, params), 422);
        expect(body).toMatchObject({ reason, outcome: 'rejected', id: expect.any(Number), reasons: [expect.any(String)] });
        return body;
      };

      // 401: no token, a wrong one, no such partner; 400: fields named; nothing stored.
      expect(await json(intake(p, { click_id: 'x', event_name: 'install' }, { token: '' }), 401)).toMatchObject({ reason: 'invalid_token' });
      expect((await intake(p, { click_id: 'x', event_name: 'install' }, { token: 'mmp_wrong' })).status).toBe(401);
      expect((await h.call('GET', `/mmp/999?token=${p.token}&event_name=install`, undefined, {})).status).toBe(401);
      expect((await h.call('GET', `/mmp/nope?token=${p.token}`, undefined, {})).status).toBe(401);
      const invalid = await json<{ reason: string; problems: Array<{ field: string }> }>(intake(p, { event_name: 'install', install_time: 'yesterday' }), 400);
      expect(invalid.reason).toBe('invalid_postback');
      expect(invalid.problems.map((x) => x.field).sort()).toEqual(['click_id', 'install_time']);
      const tooLarge = await h.call('POST', `/mmp/${p.id}?token=${p.token}`, `event_name=install&event_value=${'x'.repeat(17_000)}`, {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(tooLarge.status).toBe(413);

      const clickId = await click(l.id);
      h.clock.ms += 5_000;
      const installed = await ok({ click_id: clickId, event_name: 'install', app_id: APP_ID });
      expect(installed.outcome).toBe('accepted');
      // The same postback again: the first one's id, nothing counted.
      expect(await ok({ click_id: clickId, event_name: 'install', app_id: APP_ID })).toEqual({ id: installed.id, outcome: 'duplicate', reasons: [] });
      // An event of the accepted install, long after the click's lookback: still accepted.
      h.clock.ms += 10 * 86_400_000;
      const purchase = { click_id: clickId, event_name: 'purchase', event_id: 'order-1', revenue: '19.99', currency: 'USD' };
      const event = await ok(purchase);
      expect(event.outcome).toBe('accepted');
      expect(await ok({ ...purchase, revenue: '0.01' })).toMatchObject({ id: event.id, outcome: 'duplicate' });
      // POST, form-encoded and JSON, is read as GET is.
      const posted = await h.call('POST', `/mmp/${p.id}?token=${p.token}`, JSON.stringify({ click_id: clickId, event_name: 'level', event_value: { level: 7 } }), {
        'content-type': 'application/json',
      });
      expect(((await posted.json()) as { outcome: string }).outcome).toBe('accepted');

      expect((await ok({ event_name: 'install', attributed: 'false', app_id: APP_ID })).outcome).toBe('unattributed');
      expect(await ok({ click_id: 'their-click', event_name: 'install', rejected: '1', reject_reason: 'ctit_anomaly' })).toMatchObject({
        outcome: 'fraud_rejected',
        reasons: ['rejected by the MMP: ctit_anomaly'],
      });

      const fresh = await click(l.id);
      const forged = `${fresh.slice(0, -1)}${fresh.endsWith('A') ? 'B' : 'A'}`;
      await refused({ click_id: forged, event_name: 'install' }, 'forged_click');
      await refused({ click_id: 'not-one-of-ours', event_name: 'install' }, 'unknown_click');
      await refused({ click_id: fresh, event_name: 'install', app_id: 42 }, 'app_mismatch');
      await refused({ click_id: fresh, event_name: 'install', install_time: seconds(h.clock.ms) - 60 }, 'click_after_install');
      h.clock.ms += 2 * 86_400_000;
      await refused({ click_id: fresh, event_name: 'install' }, 'expired_click');

      await h.settleClicks();
      const [totals] = await report('');
      expect(totals).toMatchObject({
        clicks: 2,
        installs: 1,
        reattributions: 0,
        events: 2,
        revenue: 19.99,
        currency: 'USD',
        unattributed: 1,
        fraud_rejected: 1,
        rejected: 5,
        conversion_rate: 0.5,
      });
      const listed = await json<{ mmp_postbacks: Array<{ outcome: string }> }>(h.call('GET', '/v1/mmp-postbacks?outcome=rejected'), 200);
      expect(listed.mmp_postbacks).toHaveLength(5);
      const metrics = await h.metricsText();
      expect(metrics).toMatch(/skanpost_mmp_refused_total\{reason="invalid_token"\} 4/);
      expect(metrics).toMatch(/skanpost_mmp_refused_total\{reason="invalid_postback"\} 1/);
      expect(metrics).toMatch(/skanpost_mmp_refused_total\{reason="body_too_large"\} 1/);
    });

    it("lets in only the partner's allowlist, by the address a trusted proxy names", async () => {
      const p = await partner({ preset: 'custom', allowlist: ['203.0.113.0/24'] });
      const install = { event_name: 'install', attributed: '0' };
      expect((await json(intake(p, install, { headers: h.fromAddress('203.0.113.9') }), 200)).outcome).toBe('unattributed');
      expect(await json(intake(p, { ...install, event_id: '2' }, { headers: h.fromAddress('198.51.100.7') }), 403)).toMatchObject({ reason: 'not_allowed' });
      const preset = await partner({ preset: 'appsflyer', allowlist: 'preset' });
      expect((await intake(preset, install, { headers: h.fromAddress('45.92.117.3') })).status).toBe(200);
      expect((await intake(preset, { ...install, event_id: '3' }, { headers: h.fromAddress('8.8.8.8') })).status).toBe(403);
    });

    it('keeps the old token valid for 24 hours after a rotation, then refuses it', async () => {
      const p = await partner({ preset: 'custom' });
      const rotated = await json<Partner>(h.call('POST', `/v1/mmp-partners/${p.id}/rotate-token`), 200);
      expect(rotated.token).not.toBe(p.token);
      expect(rotated.postback_url_templates.install).toContain(encodeURIComponent(rotated.token));
      const unattributed = (id: string) => ({ event_name: 'install', attributed: '0', event_id: id });
      expect((await intake(p, unattributed('a'))).status).toBe(200);
      expect((await intake(p, unattributed('b'), { token: rotated.token })).status).toBe(200);
      h.clock.ms += 24 * 3_600_000 + 1000;
      expect((await intake(p, unattributed('c'))).status).toBe(401);
      expect((await intake(p, unattributed('d'), { token: rotated.token })).status).toBe(200);
      const listed = await json<{ mmp_partners: Array<Record<string, unknown>> }>(h.call('GET', '/v1/mmp-partners'), 200);
      expect(JSON.stringify(listed)).not.toContain(rotated.token);
    });

    it('validates click IDs signed with any listed secret, signs with the first, and refuses one whose secret was dropped', async () => {
      const old = 'old-secret-0123456789-0123456789-abc';
      const next = 'new-secret-0123456789-0123456789-xyz';
      await h.withClickSecrets(old);
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id);
      // Minted as /c would, but never stored: only the signature can vouch for them.
      const signed = (secret: string) => mintClickId({ linkId: l.id, touch: 'click', at: new Date(h.clock.ms) }, secret);
      await h.withClickSecrets(`${next},${old}`);
      const after = await click(l.id);
      expect(readClickId(after, [next])).toBeDefined();
      expect(readClickId(after, [old])).toBeUndefined();
      expect((await json(intake(p, { click_id: signed(old), event_name: 'install' }), 200)).outcome).toBe('accepted');
      await h.withClickSecrets(next);
      expect((await json(intake(p, { click_id: signed(next), event_name: 'install' }), 200)).outcome).toBe('accepted');
      expect(await json(intake(p, { click_id: signed(old), event_name: 'install', event_id: 'again' }), 422)).toMatchObject({ reason: 'forged_click' });
    });

    it('puts each install in its click-to-install bucket, lower bounds inclusive', async () => {
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id);
      const delays = [0, 9, 10, 59, 60, 3599, 3600, 86_399, 86_400, 6 * 86_400];
      for (const delay of delays) {
        const clickId = await click(l.id);
        await json(intake(p, { click_id: clickId, event_name: 'install', install_time: seconds(h.clock.ms) + delay }), 200);
        h.clock.ms += 1000;
      }
      const [row] = await report('');
      expect(row).toMatchObject({ installs: 10, ctit_under_10s: 2, ctit_10s_1m: 2, ctit_1m_1h: 2, ctit_1h_24h: 2, ctit_over_24h: 2 });
    });

    it('dates figures by event, click or arrival, joins the SKAN campaign, and keeps CSV safe', async () => {
      const p = await partner({ preset: 'custom' });
      await json(
        h.call('POST', '/v1/campaigns', {
          app_id: APP_ID,
          ad_network_id: 'net.example.skadnetwork',
          source_identifier: '1742',
          network_campaign_id: 'nc-42',
          name: '=HYPERLINK("x")',
        }),
        201,
      );
      const l = await link(p.id);
      h.clock.ms = Date.parse('2026-11-20T23:50:00Z');
      const clickId = await click(l.id, '?sub1=%2Bcmd');
      await h.settleClicks();
      h.clock.ms = Date.parse('2026-11-22T08:00:00Z');
      await json(intake(p, { click_id: clickId, event_name: 'install', install_time: seconds(Date.parse('2026-11-21T00:10:00Z')) }), 200);
      await h.settleClicks();
      const byDate = async (basis: string) => (await report(`group_by=date&event=install&date_basis=${basis}`)).map((r) => [r.date, r.installs]);
      expect(await byDate('event')).toEqual([['2026-11-21', 1]]);
      expect(await byDate('click')).toEqual([['2026-11-20', 1]]);
      expect(await byDate('arrival')).toEqual([['2026-11-22', 1]]);
      expect(await report('group_by=campaign,sub1')).toEqual([expect.objectContaining({ campaign: '42', sub1: '+cmd', clicks: 1, installs: 1, conversion_rate: 1 })]);
      const csv = await (await h.call('GET', '/v1/reports/mmp?from=2026-11-01&to=2026-11-30&group_by=sub1&format=csv')).text();
      expect(csv.split('\r\n')[1]).toMatch(/^'\+cmd,1,/);
      const unknown = await h.call('GET', '/v1/reports/mmp?group_by=protocol');
      expect(await unknown.json()).toMatchObject({ reason: 'invalid_parameter', parameter: 'group_by' });
      expect(await (await h.call('GET', '/v1/reports/mmp?date_basis=install')).json()).toMatchObject({ parameter: 'date_basis' });
      expect(await (await h.call('GET', '/v1/reports/mmp?environment=production')).json()).toMatchObject({ parameter: 'environment' });
    });

    it('imports clicks, validates postbacks against them by lookup, and names bad lines', async () => {
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id, { click_lookback_days: 2 });
      const at = (ms: number) => new Date(ms).toISOString();
      const ndjson = [
        { click_id: 'tracker-1', link_id: l.id, clicked_at: at(h.clock.ms - 3_600_000), sub1: 'pub-7' },
        { click_id: 'tracker-2', link_id: l.id, clicked_at: seconds(h.clock.ms - 5 * 86_400_000) },
        { click_id: 'tracker-3', link_id: l.id, clicked_at: at(h.clock.ms), touch: 'impression' },
      ]
        .map((c) => JSON.stringify(c))
        .join('\n');
      expect(await json(h.call('POST', '/v1/clicks', ndjson, { 'content-type': 'application/x-ndjson' }), 200)).toEqual({ received: 3, stored: 3, duplicates: 0 });
      expect(await json(h.call('POST', '/v1/clicks', ndjson.split('\n')[0]), 200)).toEqual({ received: 1, stored: 0, duplicates: 1 });
      const bad = await json<{ problems: Array<{ field: string }> }>(h.call('POST', '/v1/clicks', `${ndjson}\n{"click_id": 7}\nnot json`), 400);
      expect(bad.problems.map((x) => x.field)).toEqual(expect.arrayContaining(['line 5', '4.click_id', '4.link_id']));
      expect(
        (await json<{ problems: Array<{ field: string }> }>(h.call('POST', '/v1/clicks', [{ click_id: 'x', link_id: 99, clicked_at: at(h.clock.ms) }]), 400)).problems[0]!.field,
      ).toBe('link_id');

      const accepted = await json<{ id: number }>(intake(p, { click_id: 'tracker-1', event_name: 'install' }), 200);
      expect(await json(h.call('GET', `/v1/mmp-postbacks/${accepted.id}`), 200)).toMatchObject({ sub1: 'pub-7', ctit_seconds: 3600, link_id: l.id });
      await json(intake(p, { click_id: 'tracker-2', event_name: 'install' }), 422).then((b) => expect(b.reason).toBe('expired_click'));
      // A rejected postback's click is not taken as valid: it counts without a touch type.
      expect(await report('group_by=touch_type')).toEqual([
        expect.objectContaining({ touch_type: null, rejected: 1 }),
        expect.objectContaining({ touch_type: 'click', clicks: 2, installs: 1 }),
        expect.objectContaining({ touch_type: 'impression', impressions: 1 }),
      ]);
    });

    it('relays an accepted MMP postback to a destination with the seed URL, as written', async () => {
      // The receiver may be shared by other tests: this one's copies carry their own path.
      const tag = `/${crypto.randomUUID().slice(0, 8)}`;
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id);
      await json(
        h.call('POST', '/v1/destinations', {
          name: 'bidder',
          method: 'GET',
          format: 'template',
          url: `${h.receiverUrl}${tag}/postback?click_id={click_id}&event_name={event_name}&event_value={event_value}&timestamp={timestamp}`,
          filters: { protocols: ['mmp'], event_names: ['purchase'] },
        }),
        201,
      );
      await json(h.call('POST', '/v1/destinations', { name: 'archive', format: 'raw', url: `${h.receiverUrl}${tag}/raw`, filters: { protocols: ['mmp'] } }), 201);
      const clickId = await click(l.id);
      await json(intake(p, { click_id: clickId, event_name: 'install' }), 200);
      await json(intake(p, { click_id: clickId, event_name: 'purchase', event_value: '{"sku":"a b"}', event_time: seconds(h.clock.ms) }), 200);
      await json(intake(p, { click_id: 'not-ours', event_name: 'purchase' }), 422);
      await h.sendDue();
      const got = await h.received();
      const relayed = got.filter((r) => r.url.startsWith(`${tag}/postback`));
      expect(relayed.map((r) => r.url)).toEqual([
        `${tag}/postback?click_id=${clickId}&event_name=purchase&event_value=${encodeURIComponent('{"sku":"a b"}')}&timestamp=${seconds(h.clock.ms)}`,
      ]);
      const raw = got.filter((r) => r.url === `${tag}/raw`).map((r) => JSON.parse(r.body));
      expect(raw).toEqual(expect.arrayContaining([{ click_id: clickId, event_name: 'install' }]));
      expect(raw).toHaveLength(2);
    });

    it('keeps a scoped key to its apps and networks: links, click imports, MMP postbacks, the report', async () => {
      const p = await partner({ preset: 'custom' });
      const mine = await link(p.id);
      const theirs = await link(p.id, { app_id: 42, network_campaign_id: 'other' });
      const key = await json<{ secret: string }>(h.call('POST', '/v1/keys', { name: 'app admin', role: 'admin', app_ids: [APP_ID] }), 201);
      const as = { authorization: `Bearer ${key.secret}` };
      const listed = await json<{ links: Array<{ id: number }> }>(h.call('GET', '/v1/links', undefined, as), 200);
      expect(listed.links.map((l) => l.id)).toEqual([mine.id]);
      expect((await h.call('GET', `/v1/links/${theirs.id}`, undefined, as)).status).toBe(404);
      expect(await json(h.call('PATCH', `/v1/links/${mine.id}`, { app_id: 42 }, as), 403)).toMatchObject({ reason: 'out_of_scope' });
      expect((await h.call('POST', '/v1/clicks', [{ click_id: 'k', link_id: theirs.id, clicked_at: new Date(h.clock.ms).toISOString() }], as)).status).toBe(403);
      expect((await h.call('POST', '/v1/mmp-partners', { name: 'x', preset: 'custom' }, as)).status).toBe(403);
      await json(intake(p, { click_id: await click(mine.id), event_name: 'install' }), 200);
      await json(intake(p, { click_id: await click(theirs.id), event_name: 'install' }), 200);
      const exported = await (await h.call('GET', '/v1/mmp-postbacks?format=ndjson', undefined, as)).text();
      const lines = exported
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.app_id)).toEqual([APP_ID]);
      expect(JSON.parse(lines[0].raw)).toEqual({ click_id: expect.any(String), event_name: 'install' });
      expect((await h.call('GET', '/v1/mmp-postbacks?app_id=42', undefined, as)).status).toBe(403);
      expect((await h.call('GET', '/v1/reports/mmp?app_id=42', undefined, as)).status).toBe(403);
      const page = await json<{ mmp_postbacks: Array<{ id: number }>; next_cursor: number | null }>(h.call('GET', '/v1/mmp-postbacks?limit=1'), 200);
      expect(page.next_cursor).toBe(page.mmp_postbacks[0]!.id);
      const next = await json<{ mmp_postbacks: Array<{ id: number }> }>(h.call('GET', `/v1/mmp-postbacks?limit=1&cursor=${page.next_cursor}`), 200);
      expect(next.mmp_postbacks[0]!.id).toBeGreaterThan(page.next_cursor!);
      expect(await json(h.call('GET', '/v1/mmp-postbacks?colour=blue'), 400)).toMatchObject({ parameter: 'colour' });
    });

    it('documents the new paths in the OpenAPI document', async () => {
      const doc = await json<{ paths: Record<string, unknown> }>(h.call('GET', '/openapi.json'), 200);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/c/{id}',
          '/i/{id}',
          '/mmp/{partner_id}',
          '/v1/links',
          '/v1/clicks',
          '/v1/mmp-partners',
          '/v1/mmp-partners/{id}/rotate-token',
          '/v1/mmp-postbacks',
          '/v1/reports/mmp',
        ]),
      );
    });

    it('announces an impression to the MMP through the outbox when the link has an impression_url', async () => {
      const tag = `/${crypto.randomUUID().slice(0, 8)}`;
      const p = await partner({ preset: 'custom' });
      const l = await link(p.id, { impression_url: `${h.receiverUrl}${tag}/impression?clickid={click_id}&nc={network_campaign_id}` });
      expect((await h.call('GET', `/i/${l.id}?sub1=x`, undefined, {})).status).toBe(204);
      await h.settleClicks();
      await h.sendDue();
      const pings = (await h.received()).filter((r) => r.url.startsWith(`${tag}/impression`));
      expect(pings).toHaveLength(1);
      expect(pings[0]!.method).toBe('GET');
      expect(pings[0]!.url.slice(tag.length)).toMatch(/^\/impression\?clickid=[A-Za-z0-9_-]{50}&nc=nc-42$/);
    });
  });
}
