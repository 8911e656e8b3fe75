// One scenario, run by test/parity.test.ts on Node (better-sqlite3) and by
// test/workers/parity.test.ts inside workerd (D1): settings, the committed pre-signed postbacks at
// fixed arrival times, then reports and listings. Both compare with fixtures/parity/golden.json.
// Runtime-neutral on purpose: it only speaks HTTP to the app it is given.
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import fixture from '../../fixtures/parity/postbacks.json' with { type: 'json' };

export const PARITY_ADMIN_KEY = 'parity-admin-key-0123456789';
export const PARITY_EXTRA_KEYS = fixture.extra_keys;
const APP_ID = 525463029;

export interface Clock {
  at: Date;
}

type Fetch = (request: Request) => Response | Promise<Response>;

async function call(app: Fetch, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await app(
    new Request(`http://skanpost.test${path}`, { ...init, headers: { authorization: `Bearer ${PARITY_ADMIN_KEY}`, 'content-type': 'application/json', ...init.headers } }),
  );
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, body: json ? JSON.parse(text) : text };
}

/** Reports without `generated_at`, the one value that is the wall clock's. */
function stable(body: unknown): unknown {
  if (body && typeof body === 'object' && 'meta' in body) {
    const { generated_at: _, ...meta } = (body as { meta: Record<string, unknown> }).meta;
    return { ...body, meta };
  }
  return body;
}

/** The settings the scenario starts from: a conversion-value schema and a campaign name. */
export async function paritySetup(app: Fetch): Promise<number[]> {
  return [
    await call(app, `/v1/apps/${APP_ID}/schemas`, { method: 'POST', body: JSON.stringify({ ...schema, effective_from: '2026-10-01T00:00:00Z' }) }),
    await call(app, '/v1/campaigns', {
      method: 'POST',
      body: JSON.stringify({ ad_network_id: 'example123.skadnetwork', app_id: APP_ID, source_identifier: '39', name: 'Spring sale', network_campaign_id: 'net-39' }),
    }),
  ].map((r) => r.status);
}

export async function runParityScenario(app: Fetch, clock: Clock) {
  clock.at = new Date('2026-11-01T00:00:00Z');
  const setup = await paritySetup(app);
  const receipts = [];
  for (const { received_at, body } of fixture.postbacks) {
    clock.at = new Date(received_at);
    const path = 'jws-string' in body ? '/.well-known/appattribution/report-attribution/' : '/.well-known/skadnetwork/report-attribution/';
    const response = await call(app, path, { method: 'POST', body: JSON.stringify(body), headers: { authorization: '' } });
    receipts.push({ status: response.status, ...(response.body as object) });
  }

  const range = 'from=2026-11-01&to=2026-11-06';
  const reports = {
    byCampaign: stable((await call(app, `/v1/reports/campaigns?${range}&group_by=date,protocol,version,campaign,window`)).body),
    csv: (await call(app, `/v1/reports/campaigns?${range}&group_by=campaign,coarse_conversion_value&format=csv`)).body,
    installBasisKolkata: stable((await call(app, `/v1/reports/campaigns?from=2026-10-25&to=2026-11-06&tz=Asia/Kolkata&date_basis=install&group_by=date,ad_network_id`)).body),
    development: stable((await call(app, `/v1/reports/campaigns?${range}&environment=development&group_by=protocol`)).body),
    events: stable((await call(app, `/v1/reports/events?${range}&group_by=event,window`)).body),
    byInteraction: stable((await call(app, `/v1/reports/campaigns?${range}&group_by=protocol,ad_interaction_type,fidelity_type`)).body),
  };
  const postbacks = (await call(app, '/v1/postbacks?limit=100')).body;
  return { setup, receipts, reports, postbacks };
}
