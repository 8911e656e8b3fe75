/** @jsxImportSource hono/jsx */
// The analyst dashboard: server-rendered pages (hono/jsx), a small script for charts and tables,
// data from the same report routes as the API under /dashboard/api with the session's principal.
// docs/dashboard.md says what each page shows.

import { TZDate } from '@date-fns/tz';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { addDays, format, parseISO } from 'date-fns';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import { secureHeaders } from 'hono/secure-headers';
import { getApiKey } from '../../db/api-keys.js';
import { isTimeZone } from '../../report/query.js';
import { principalOf } from '../auth.js';
import { clientAddress, RateLimiter } from '../client-guard.js';
import type { AppEnv, Principal } from '../deps.js';
import { problem } from '../problem.js';
import { adminFingerprint, csrfToken, csrfValid, readSession, SESSION_COOKIE, SESSION_MS, signSession } from './session.js';

const MAX_DASHBOARD_BODY_BYTES = 64 * 1024;

/** Nothing but skanpost's own origin: no inline script, no CDN, no framing. */
export const dashboardSecurity = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

/** The campaign table's rows: one per network, app and campaign. */
const CAMPAIGN_GROUPS = 'ad_network_id,app_id,campaign';

const PAGES = [
  { path: '/dashboard', title: 'Overview' },
  { path: '/dashboard/campaigns', title: 'Campaigns' },
  { path: '/dashboard/mmp', title: 'MMP' },
  { path: '/dashboard/discrepancies', title: 'Discrepancies' },
  { path: '/dashboard/copies', title: 'Copies' },
  { path: '/dashboard/forwarding', title: 'Forwarding' },
  { path: '/dashboard/settings', title: 'Settings' },
] as const;

/** What each cause of a gap means, one click away on the discrepancy and copy pages (docs/discrepancies.md says more). */
const CAUSES = [
  [
    'Opt-in share',
    'MMP postbacks cover only users who allowed tracking; SKAN covers every install from the ad. MMP below SKAN is expected: opt_in_share is the observed opt-in rate, and MMP gaps never set the status.',
  ],
  ['Attribution method', 'SKAN credits the ad Apple saw win; an MMP uses its own lookbacks and rules; a network counts its own clicks.'],
  [
    'Click, install or postback date',
    "A network dates an install by its click, an MMP by the install, SKAN by the postback's arrival (a day or more later): compare on the same basis.",
  ],
  ['Time zone', "Each dashboard cuts days at its own midnight: upload each source's rows with their zone and read the report in it."],
  ['SKAN delay', 'Window-0 postbacks leave the device 24–48 h after the window ends: recent days are incomplete until none can still arrive.'],
  ['Privacy thresholds', 'Low crowd-anonymity tiers get a 2-digit source identifier and no conversion value.'],
  ['Fraud filtering', 'MMPs reject installs they judge fraudulent; a network dashboard may count them.'],
  ['Relayed copies', 'A copy only one side has, or a relayed copy whose values differ from the direct one, points at a relay that drops or alters postbacks.'],
] as const;

function Causes() {
  return (
    <details class="causes">
      <summary>Why counts differ</summary>
      <dl>
        {CAUSES.map(([cause, meaning]) => (
          <>
            <dt>{cause}</dt>
            <dd>{meaning}</dd>
          </>
        ))}
      </dl>
      <p>skanpost's documentation (docs/discrepancies.md) explains each, and how to read the reports.</p>
    </details>
  );
}

/** A file of public/ (Node: read at start; a Worker's static assets), or 404. */
export async function serveAsset(c: Context<AppEnv>, path: string): Promise<Response> {
  const asset = /^[a-z]+\/assets\/[a-z0-9.-]+$/i.test(path) ? await c.get('deps').asset?.(path) : undefined;
  if (!asset) return problem(c, 404, 'not_found', 'Not Found', { detail: `no asset /${path}` });
  return c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=3600' });
}

/** Over HTTPS, directly or as the trusted proxy says: then the cookie is Secure. */
function overHttps(c: Context<AppEnv>): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return c.get('deps').guard?.trustedHeader !== undefined && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

const COOKIE_OPTIONS = { path: '/', httpOnly: true, sameSite: 'Strict' } as const;

function Layout(props: { title: string; principal?: Principal | undefined; csrf?: string; path?: string; children: Child }) {
  return (
    <>
      {raw('<!DOCTYPE html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${props.title} · skanpost`}</title>
          {/* No icon: the browser would ask /favicon.ico for one. */}
          <link rel="icon" href="data:," />
          <link rel="stylesheet" href="/dashboard/assets/uplot.css" />
          <link rel="stylesheet" href="/dashboard/assets/dashboard.css" />
          <script defer src="/dashboard/assets/uplot.js" />
          <script type="module" src="/dashboard/assets/dashboard.js" />
        </head>
        <body>
          <header>
            <strong>skanpost</strong>
            {props.principal && (
              <nav aria-label="Pages">
                {PAGES.map((p) => (
                  <a href={p.path} aria-current={p.path === props.path ? 'page' : undefined}>
                    {p.title}
                  </a>
                ))}
              </nav>
            )}
            {props.principal && (
              <form method="post" action="/dashboard/sign-out" class="sign-out">
                <input type="hidden" name="csrf" value={props.csrf} />
                <span>
                  {props.principal.role}
                  {props.principal.appIds ? ` · apps ${props.principal.appIds.join(', ')}` : ''}
                  {props.principal.adNetworkIds ? ` · networks ${props.principal.adNetworkIds.join(', ')}` : ''}
                </span>
                <button type="submit">Sign out</button>
              </form>
            )}
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

/** The controls every page has: their state is the URL's query, so a view can be bookmarked and shared. */
function Controls(props: { query: Record<string, string> }) {
  const q = props.query;
  const zones = typeof Intl.supportedValuesOf === 'function' ? ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')] : ['UTC'];
  return (
    <form method="get" class="controls" id="controls">
      <label>
        Range
        <select name="days">
          {['7', '30', '90'].map((d) => (
            <option value={d} selected={(q.days ?? '7') === d}>{`last ${d} days`}</option>
          ))}
        </select>
      </label>
      <label>
        Time zone
        <input name="tz" list="zones" value={q.tz ?? 'UTC'} autocomplete="off" />
        <datalist id="zones">
          {zones.map((z) => (
            <option value={z} />
          ))}
        </datalist>
      </label>
      <label>
        Date basis
        <select name="date_basis">
          <option value="arrival" selected={(q.date_basis ?? 'arrival') === 'arrival'}>
            arrival
          </option>
          <option value="install" selected={q.date_basis === 'install'}>
            estimated install
          </option>
        </select>
      </label>
      <label>
        App
        <input name="app_id" value={q.app_id ?? ''} inputmode="numeric" placeholder="all" />
      </label>
      <label>
        Network
        <input name="ad_network_id" value={q.ad_network_id ?? ''} placeholder="all" />
      </label>
      <button type="submit">Show</button>
    </form>
  );
}

function SignIn(props: { error?: string }) {
  return (
    <Layout title="Sign in">
      <form method="post" action="/dashboard/sign-in" class="sign-in">
        <h1>Sign in</h1>
        <label>
          API key
          <input type="password" name="api_key" autocomplete="current-password" required />
        </label>
        {props.error && (
          <p role="alert" class="error">
            {props.error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

/** The page's query as the controls keep it; empty values dropped. */
const pageQuery = (c: Context) => Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ''));

/** How a page's report names the control's date basis (arrival, or estimated install); none: it has one basis. */
type BasisName = (basis: string) => [string, string] | undefined;
const AS_IS: BasisName = (basis) => ['date_basis', basis];

/**
 * The report parameters of the page's controls, the API's own: the last `days` days including
 * today in the zone. A control the report would refuse is passed on as typed, so the page shows
 * the report's own error naming it.
 */
function reportQuery(query: Record<string, string>, now: Date, extra: Record<string, string>, basisName: BasisName = AS_IS): string {
  const tz = query.tz ?? 'UTC';
  const days = ['7', '30', '90'].includes(query.days ?? '') ? Number(query.days) : 7;
  const zone = isTimeZone(tz) ? tz : 'UTC';
  const to = format(new TZDate(now.getTime(), zone), 'yyyy-MM-dd');
  const params = new URLSearchParams({ from: format(addDays(parseISO(to), 1 - days), 'yyyy-MM-dd'), to, tz });
  for (const name of ['app_id', 'ad_network_id', 'campaign']) if (query[name]) params.set(name, query[name]);
  const basis = query.date_basis ? basisName(query.date_basis) : undefined;
  if (basis) params.set(...basis);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params.toString();
}

export function dashboardRoutes(app: OpenAPIHono<AppEnv>): void {
  // Ten tries a minute per address, then a wait: a key cannot be guessed through the form.
  const signInLimiter = new RateLimiter(10 / 60, 10);

  // The sign-in form and the settings the pages send are small: 64 KiB, as the API's bodies.
  const limit = bodyLimit({
    maxSize: MAX_DASHBOARD_BODY_BYTES,
    onError: (c) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `dashboard requests are limited to ${MAX_DASHBOARD_BODY_BYTES} bytes` }),
  });
  app.use('/dashboard/*', limit);
  app.use('/', dashboardSecurity);
  app.use('/dashboard', dashboardSecurity);
  app.use('/dashboard/*', dashboardSecurity);
  app.get('/', (c) => c.redirect('/dashboard', 302));

  app.get('/dashboard/assets/:name', (c) => serveAsset(c, `dashboard/assets/${c.req.param('name')}`));

  app.get('/dashboard/sign-in', (c) => c.html(<SignIn />));

  app.post('/dashboard/sign-in', async (c) => {
    const deps = c.get('deps');
    const address = clientAddress(c.req.raw.headers, deps.guard?.socketAddress?.(c), deps.guard?.trustedHeader) ?? 'unknown';
    const wait = signInLimiter.take(address, Date.now());
    if (wait !== undefined) {
      return c.html(<SignIn error={`Too many attempts from this address; try again in ${wait} s.`} />, 429, { 'Retry-After': String(wait) });
    }
    const form = await c.req.parseBody();
    const secret = typeof form.api_key === 'string' ? form.api_key.trim() : '';
    const principal = secret && secret.length <= 200 ? await principalOf(deps, secret) : undefined;
    if (!principal) return c.html(<SignIn error="That API key is not known." />, 401);
    const [signing] = await deps.sessionSecrets();
    const cookie = signSession(signing!, {
      keyId: principal.keyId ?? 0,
      expiresMs: deps.now().getTime() + SESSION_MS,
      admin: principal.keyId === null ? adminFingerprint(secret) : '',
    });
    setCookie(c, SESSION_COOKIE, cookie, { ...COOKIE_OPTIONS, maxAge: SESSION_MS / 1000, secure: overHttps(c) });
    return c.redirect('/dashboard', 303);
  });

  // Everything below needs a session: pages redirect to the sign-in, data routes answer 401.
  const session: MiddlewareHandler<AppEnv> = async (c, next: Next) => {
    const path = c.req.path;
    if (path === '/dashboard/sign-in' || path.startsWith('/dashboard/assets/')) return next();
    const deps = c.get('deps');
    const secrets = await deps.sessionSecrets();
    const cookie = getCookie(c, SESSION_COOKIE);
    const found = readSession(secrets, cookie, deps.now().getTime());
    let principal: Principal | undefined;
    if (found && found.keyId === 0) {
      if (deps.adminKey && found.admin === adminFingerprint(deps.adminKey)) principal = { role: 'admin', keyId: null, appIds: null, adNetworkIds: null };
    } else if (found) {
      const key = await getApiKey(deps.db, found.keyId);
      if (key) principal = { role: key.role, keyId: key.id, appIds: key.appIds, adNetworkIds: key.adNetworkIds };
    }
    if (!principal || !cookie) {
      if (cookie) deleteCookie(c, SESSION_COOKIE, COOKIE_OPTIONS);
      if (path.startsWith('/dashboard/api/')) return problem(c, 401, 'unauthorized', 'Unauthorized', { detail: 'sign in at /dashboard/sign-in' });
      return c.redirect('/dashboard/sign-in', 303);
    }
    // Anything that changes state carries the session's CSRF token (a form field or a header).
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const token = c.req.header('x-csrf-token') ?? (c.req.header('content-type')?.includes('form') ? ((await c.req.parseBody()).csrf as string | undefined) : undefined);
      if (!csrfValid(secrets, cookie, token)) return problem(c, 403, 'forbidden', 'Forbidden', { detail: 'the form is stale or not from this dashboard; reload the page' });
    }
    c.set('principal', principal);
    c.set('sessionCookie', cookie);
    return next();
  };
  app.use('/dashboard', session);
  app.use('/dashboard/*', session);

  const csrfOf = async (c: Context<AppEnv>) => csrfToken((await c.get('deps').sessionSecrets())[0]!, c.get('sessionCookie'));

  app.post('/dashboard/sign-out', (c) => {
    deleteCookie(c, SESSION_COOKIE, COOKIE_OPTIONS);
    return c.redirect('/dashboard/sign-in', 303);
  });

  app.get('/dashboard', async (c) => {
    const query = pageQuery(c);
    return c.html(
      <Layout title="Overview" principal={c.get('principal')} csrf={await csrfOf(c)} path="/dashboard">
        <h1>Overview</h1>
        <Controls query={query} />
        <section id="overview" data-page="overview" data-query={reportQuery(query, c.get('deps').now(), {})} aria-live="polite">
          <dl class="totals" id="totals" />
          <figure>
            <figcaption>Postbacks and installs per day</figcaption>
            <div id="chart" class="chart" role="img" aria-label="Postbacks and installs per day; the table below holds the same figures" />
            <p class="legend">Dashed: days still filling (postbacks for them can still arrive).</p>
          </figure>
          <h2>Verdicts and windows</h2>
          <dl class="totals" id="verdicts" />
          <table id="days" class="data">
            <caption>Per day</caption>
          </table>
        </section>
      </Layout>,
    );
  });

  app.get('/dashboard/campaigns/:network/:app/:campaign', async (c) => {
    const query = pageQuery(c);
    const { network, app: appId, campaign } = c.req.param();
    // The campaign's own filters on top of the controls' ('null' is the report's word for absent).
    const filters = { ad_network_id: network, app_id: appId, campaign };
    const title = `Campaign ${campaign === 'null' ? '(none)' : campaign} of ${network === 'null' ? '(no network)' : network}, app ${appId}`;
    return c.html(
      <Layout title={title} principal={c.get('principal')} csrf={await csrfOf(c)} path="/dashboard/campaigns">
        <p>
          <a href={`/dashboard/campaigns?${new URLSearchParams(query)}`}>← Campaigns</a>
        </p>
        <h1>{title}</h1>
        <Controls query={query} />
        <section id="campaign" data-page="campaign" data-query={reportQuery({ ...query, ...filters }, c.get('deps').now(), {})} aria-live="polite">
          <figure>
            <figcaption>Postbacks and installs per day</figcaption>
            <div id="chart" class="chart" role="img" aria-label="Postbacks and installs per day; the table below holds the same figures" />
            <p class="legend">Dashed: days still filling (postbacks for them can still arrive).</p>
          </figure>
          <table id="days" class="data">
            <caption>Per day</caption>
          </table>
          <h2>Fine conversion values (window 0)</h2>
          <div id="values-chart" class="chart" role="img" aria-label="Postbacks per fine conversion value; the table below holds the same figures" />
          <table id="values" class="data">
            <caption>Postbacks per fine value</caption>
          </table>
          <h2>Coarse values per window</h2>
          <table id="coarse" class="data">
            <caption>Low, medium and high per window</caption>
          </table>
          <h2>Decoded events</h2>
          <table id="events" class="data">
            <caption>Events decoded from conversion values (a range: a value may stand for several counts)</caption>
          </table>
        </section>
      </Layout>,
    );
  });

  app.get('/dashboard/mmp', async (c) => {
    const query = pageQuery(c);
    // MMP postbacks are dated by their event (an install's install time) or by arrival.
    const data = reportQuery(query, c.get('deps').now(), {}, (b) => ['date_basis', b === 'install' ? 'event' : b]);
    return c.html(
      <Layout title="MMP" principal={c.get('principal')} csrf={await csrfOf(c)} path="/dashboard/mmp">
        <h1>MMP postbacks</h1>
        <Controls query={query} />
        <section id="mmp" data-page="mmp" data-query={data} aria-live="polite">
          <p class="tools">
            <a id="csv" href={`/dashboard/api/reports/mmp?${data}&group_by=link_id,network_campaign_id&format=csv`} download>
              Download CSV
            </a>
          </p>
          <table id="links" class="data">
            <caption>Clicks, installs, conversion rate, events and revenue per link and network campaign</caption>
          </table>
          <h2>Click to install time</h2>
          <div id="ctit-chart" class="chart" role="img" aria-label="Installs by click-to-install time; the table below holds the same figures and names the zones" />
          <p class="legend">
            Red bars: under 10 s (an install that fast after its click suggests click injection or hijacking) and over 24 h (a click long before the install suggests click
            flooding).
          </p>
          <table id="ctit" class="data">
            <caption>Installs by click-to-install time</caption>
          </table>
        </section>
      </Layout>,
    );
  });

  for (const [name, title, groups, caption] of [
    ['discrepancies', 'Discrepancies', 'date,network_campaign_id', 'SKAN, MMP and uploaded figures per day and network campaign, with their gaps to the reference'],
    ['copies', 'Copies', 'date,channel', "Apple's developer copies per day and channel: direct, relayed, both, and relayed copies whose values differ"],
  ] as const) {
    app.get(`/dashboard/${name}`, async (c) => {
      const query = pageQuery(c);
      const data = reportQuery(query, c.get('deps').now(), { group_by: groups }, name === 'discrepancies' ? (b) => ['skan_date_basis', b] : () => undefined);
      return c.html(
        <Layout title={title} principal={c.get('principal')} csrf={await csrfOf(c)} path={`/dashboard/${name}`}>
          <h1>{title}</h1>
          <Controls query={query} />
          <Causes />
          <section id={name} data-page="report" data-report={name} data-query={data} aria-live="polite">
            <p class="tools">
              <a id="csv" href={`/dashboard/api/reports/${name}?${data}&format=csv`} download>
                Download CSV
              </a>
            </p>
            <table id="report-table" class="data">
              <caption>{caption}</caption>
            </table>
          </section>
        </Layout>,
      );
    });
  }

  app.get('/dashboard/settings', async (c) => {
    const principal = c.get('principal');
    return c.html(
      <Layout title="Settings" principal={principal} csrf={await csrfOf(c)} path="/dashboard/settings">
        <h1>Settings</h1>
        {principal.role !== 'admin' ? (
          <p role="alert">Settings change what every report shows: sign in with an admin key.</p>
        ) : (
          <section id="settings" data-page="settings" aria-live="polite">
            <h2>Conversion-value schemas</h2>
            <form id="schema-form" class="controls">
              <label>
                App
                <input name="app_id" inputmode="numeric" required />
              </label>
              <label>
                Schema (JSON)
                <input name="file" type="file" accept="application/json,.json" />
              </label>
              <label class="wide">
                or paste it
                <textarea name="text" rows={4} cols={60} />
              </label>
              <button type="submit">Validate and add</button>
              <button type="button" id="schema-versions">
                Show versions
              </button>
            </form>
            <ul id="schema-problems" class="problems" aria-live="assertive" />
            <table id="schemas" class="data">
              <caption>The app's schema versions</caption>
            </table>
            <h2>Campaign names</h2>
            <form id="campaign-form" class="controls">
              <label>
                Network
                <input name="ad_network_id" required />
              </label>
              <label>
                App
                <input name="app_id" inputmode="numeric" required />
              </label>
              <label>
                Source identifier
                <input name="source_identifier" required pattern="[0-9]{2,4}" />
              </label>
              <label>
                Name
                <input name="name" required />
              </label>
              <label>
                Network campaign id
                <input name="network_campaign_id" />
              </label>
              <button type="submit">Add</button>
            </form>
            <ul id="campaign-problems" class="problems" aria-live="assertive" />
            <table id="campaign-names" class="data">
              <caption>Names by network, app and source identifier</caption>
            </table>
            <h2>Tracking links and MMP partners</h2>
            <table id="partners" class="data">
              <caption>MMP partners and the postback URL templates to give them (their token is shown once, at creation)</caption>
            </table>
            <table id="links" class="data">
              <caption>Tracking links and the click URL to put in ads</caption>
            </table>
            <h2>API keys</h2>
            <form id="key-form" class="controls">
              <label>
                Name
                <input name="name" required />
              </label>
              <label>
                Role
                <select name="role">
                  <option value="analyst">analyst</option>
                  <option value="admin">admin</option>
                </select>
              </label>
              <label>
                Apps (comma-separated; empty for all)
                <input name="app_ids" />
              </label>
              <button type="submit">Create</button>
            </form>
            <ul id="key-problems" class="problems" aria-live="assertive" />
            <p id="new-secret" role="status" />
            <table id="keys" class="data">
              <caption>API keys (their secrets are never shown again)</caption>
            </table>
          </section>
        )}
      </Layout>,
    );
  });

  app.get('/dashboard/forwarding', async (c) => {
    const principal = c.get('principal');
    // Destinations see every app's postbacks: an admin key without a scope manages them, as in the API.
    const allowed = principal.role === 'admin' && !principal.appIds && !principal.adNetworkIds;
    return c.html(
      <Layout title="Forwarding" principal={principal} csrf={await csrfOf(c)} path="/dashboard/forwarding">
        <h1>Forwarding</h1>
        {allowed ? (
          <section id="forwarding" data-page="forwarding" aria-live="polite">
            <table id="destinations" class="data">
              <caption>Destinations: copies delivered, waiting, being retried and dead, and the latency of the last 1,000 sends</caption>
            </table>
            <h2>Dead letters</h2>
            <table id="dead" class="data">
              <caption>Copies that will not be sent again unless replayed, with their last error</caption>
            </table>
          </section>
        ) : (
          <p role="alert">Forwarding acts on every app and network: sign in with an admin key without a scope.</p>
        )}
      </Layout>,
    );
  });

  app.get('/dashboard/campaigns', async (c) => {
    const query = pageQuery(c);
    return c.html(
      <Layout title="Campaigns" principal={c.get('principal')} csrf={await csrfOf(c)} path="/dashboard/campaigns">
        <h1>Campaigns</h1>
        <Controls query={query} />
        <section id="campaigns" data-page="campaigns" data-query={reportQuery(query, c.get('deps').now(), { group_by: CAMPAIGN_GROUPS })} aria-live="polite">
          <p class="tools">
            <label>
              Filter rows
              <input id="filter" type="search" placeholder="network, app, campaign or name" />
            </label>
            <a id="csv" href={`/dashboard/api/reports/campaigns?${reportQuery(query, c.get('deps').now(), { group_by: CAMPAIGN_GROUPS, format: 'csv' })}`} download>
              Download CSV
            </a>
          </p>
          <table id="campaign-table" class="data sortable">
            <caption>Campaigns in the range (select a column heading to sort)</caption>
          </table>
        </section>
      </Layout>,
    );
  });
}
