// The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a real
// `npm start` server: what a person sees, the numbers plotted, the CSV downloaded, a scoped key's
// view, sign-out; no console error and no request to another origin on any page.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, pageReady, signIn as signInAt, watchedPage } from '../support/browser.js';
import { type ServerProcess, startServer } from '../support/server.js';
import { generateKey, signSkan, skanBody } from '../support/signing.js';

const ADMIN = 'dashboard-admin-key-0123456789';
const key = generateKey('P-256');
const APP = 525463029;
const OTHER_APP = 111;

let dir: string;
let server: ServerProcess;
let browser: Browser;
const problems: string[] = [];

const api = (path: string, init: RequestInit = {}, secret = ADMIN) =>
  fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${secret}`, ...(init.headers ?? {}) } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-dashboard-'));
  server = await startServer({ SKANPOST_DB: join(dir, 'db.sqlite'), SKANPOST_ADMIN_KEY: ADMIN, SKANPOST_EXTRA_KEYS: key.spkiBase64 }, { viaNpm: true });
  // Seven verified postbacks of the app (campaign 39, five of them installs), two of another app (campaign 40).
  const post = (body: Record<string, unknown>) => fetch(`${server.url}/.well-known/skadnetwork/report-attribution/`, { method: 'POST', body: JSON.stringify(body) });
  // Three carry a fine value: 12 twice, 40 once.
  const values = [12, 12, 40];
  for (let i = 0; i < 7; i++) {
    const value = values[i] === undefined ? {} : { 'conversion-value': values[i] };
    const r = await post(signSkan(skanBody('4.0', { 'app-id': APP, 'source-identifier': '5239', 'did-win': i < 5, ...value }), key, '4.0'));
    expect(r.status).toBe(200);
  }
  for (let i = 0; i < 2; i++) await post(signSkan(skanBody('4.0', { 'app-id': OTHER_APP, 'source-identifier': '1240' }), key, '4.0'));
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.killAll();
  rmSync(dir, { recursive: true, force: true });
});

const newPage = () => watchedPage(browser, server.url, problems);
const signIn = (page: Page, secret: string) => signInAt(page, server.url, secret);
const ready = pageReady;
const total = (page: Page, id: string) => page.locator(`[data-total="${id}"]`).textContent();

it('signs in, shows the figures ingested and plots them, moves the days with the time zone, and signs out', async () => {
  const page = await newPage();
  await signIn(page, ADMIN);
  await ready(page);
  expect(await total(page, 'postbacks')).toBe('9');
  expect(await total(page, 'installs')).toBe('7');
  expect(await total(page, 'verified_share')).toBe('100.0 %');
  // What the chart plots: the postbacks of the one day there are, and the installs.
  const plotted = await page.evaluate(() => {
    const chart = (window as unknown as { skanpostCharts: { overview: { data: Array<Array<number | null>> } } }).skanpostCharts.overview;
    // Each day's value is on the solid series, or else on the dashed one (they share the day they meet).
    const perDay = (solid: Array<number | null>, dashed: Array<number | null>) => solid.map((v, i) => v ?? dashed[i] ?? 0);
    const add = (xs: number[]) => xs.reduce((s, v) => s + v, 0);
    const [, p, pf, i, iF] = chart.data as Array<Array<number | null>>;
    return { days: chart.data[0]!.length, postbacks: add(perDay(p!, pf!)), installs: add(perDay(i!, iF!)), today: [p!.at(-1), pf!.at(-1)] };
  });
  // Seven days, every one plotted; today is still filling, so its figures are on the dashed series.
  expect(plotted).toEqual({ days: 7, postbacks: 9, installs: 7, today: [null, 9] });
  const utcDay = new Date().toISOString().slice(0, 10);
  const dayRows = async () =>
    (await page.locator('#days tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)))).filter((r) => r[1] !== '0');
  expect(await dayRows()).toEqual([[utcDay, '9', '9', '7', '66.7 %', 'still filling']]);

  // UTC+14: the same postbacks fall on that zone's day, which the URL now holds.
  await page.getByLabel('Time zone').fill('Pacific/Kiritimati');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/tz=Pacific%2FKiritimati/);
  await ready(page);
  const kiritimatiDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Pacific/Kiritimati' }).format(new Date());
  expect((await dayRows()).map((r) => r[0])).toEqual([kiritimatiDay]);
  // Remembered: the overview without a zone in its URL opens in the last one chosen.
  await page.goto(`${server.url}/dashboard`);
  await page.waitForURL(/tz=Pacific%2FKiritimati/);
  await ready(page);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/dashboard\/sign-in$/);
  await page.goto(`${server.url}/dashboard`);
  expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
});

it('lists campaigns, sorts and filters them, and downloads the API CSV byte for byte', async () => {
  const page = await newPage();
  await signIn(page, ADMIN);
  await page.goto(`${server.url}/dashboard/campaigns?days=30`);
  await ready(page);
  const rows = page.locator('#campaign-table tbody tr');
  expect(await rows.count()).toBe(2);
  // Sorted by installs, most first: the app's campaign 39 (5 installs) before the other app's 40 (2).
  expect(await page.locator('#campaign-table tbody td[data-column="campaign"]').allTextContents()).toEqual(['39', '40']);
  expect(await page.locator('#campaign-table tbody td[data-column="installs"]').allTextContents()).toEqual(['5', '2']);
  await page.getByRole('button', { name: 'App' }).click();
  await page.getByRole('button', { name: 'App' }).click();
  // First click: most first; second: least first.
  expect(await page.locator('#campaign-table tbody td[data-column="app_id"]').allTextContents()).toEqual([String(OTHER_APP), String(APP)]);
  expect(await page.locator('#campaign-table th[data-column="app_id"]').getAttribute('aria-sort')).toBe('ascending');
  await page.getByLabel('Filter rows').fill('1240');
  await page.getByLabel('Filter rows').fill('40');
  expect(await page.locator('#campaign-table tbody td[data-column="campaign"]').allTextContents()).toEqual(['40']);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  const downloaded = readFileSync((await download.path())!);
  const csvUrl = new URL((await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href'))!, server.url);
  const fromApi = Buffer.from(await (await api(`/v1/reports/campaigns${csvUrl.search}`)).arrayBuffer());
  expect(downloaded.equals(fromApi)).toBe(true);
  expect(downloaded.toString('utf8')).toContain(',39,');

  // A row opens its campaign: days, fine values (plotted and tabled), coarse values per window, events.
  await page.getByLabel('Filter rows').fill('');
  await page.getByRole('link', { name: '39', exact: true }).click();
  await page.waitForURL(/\/dashboard\/campaigns\/[^/]+\/525463029\/39\?/);
  await ready(page);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Campaign 39');
  const cells = (id: string) => page.locator(`#${id} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
  expect(await cells('values')).toEqual([
    ['12', '2'],
    ['40', '1'],
  ]);
  const bars = await page.evaluate(() => (window as unknown as { skanpostCharts: { values: { data: unknown[] } } }).skanpostCharts.values.data);
  expect(bars).toEqual([
    [12, 40],
    [2, 1],
  ]);
  const days = (await cells('days')).filter((r) => r[1] !== '0');
  expect(days.map((r) => r.slice(1, 4))).toEqual([['7', '7', '5']]);
  expect(await cells('coarse')).toEqual([['0', '0', '0', '0', '4']]);
});

it('shows a scoped key only its app, and refuses the other one', async () => {
  const created = (await (await api('/v1/keys', { method: 'POST', body: JSON.stringify({ name: 'one app', role: 'analyst', app_ids: [OTHER_APP] }) })).json()) as {
    id: number;
    secret: string;
  };
  const page = await newPage();
  await signIn(page, created.secret);
  await page.goto(`${server.url}/dashboard/campaigns?days=30`);
  await ready(page);
  expect(await page.locator('#campaign-table tbody td[data-column="app_id"]').allTextContents()).toEqual([String(OTHER_APP)]);
  // The session's cookie, asking outside its scope: refused; and /v1 stays Bearer-only.
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  expect((await fetch(`${server.url}/dashboard/api/reports/campaigns?app_id=${APP}`, { headers: { cookie } })).status).toBe(403);
  expect((await fetch(`${server.url}/v1/reports/campaigns`, { headers: { cookie } })).status).toBe(401);
  // Deleting the key ends its sessions.
  expect((await api(`/v1/keys/${created.id}`, { method: 'DELETE' })).status).toBe(204);
  await page.goto(`${server.url}/dashboard/campaigns`);
  expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
});

it('lists destinations and dead letters, replays one, and pauses a destination (admin)', async () => {
  // A partner on 127.0.0.1 that refuses (400: a dead letter at once), then takes what is replayed.
  let accept = false;
  const received: string[] = [];
  const partner = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(accept ? 200 : 400).end(accept ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(partner.address() as AddressInfo).port}/skan`;
    const created = await api('/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'partner', url }) });
    expect(created.status).toBe(201);
    const post = await fetch(`${server.url}/.well-known/skadnetwork/report-attribution/`, {
      method: 'POST',
      body: JSON.stringify(signSkan(skanBody('4.0', { 'app-id': APP, 'source-identifier': '5239' }), key, '4.0')),
    });
    expect(post.status).toBe(200);
    const dead = async () => ((await (await api('/v1/deliveries?state=dead')).json()) as { deliveries: unknown[] }).deliveries.length;
    for (let i = 0; i < 100 && (await dead()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await dead()).toBe(1);

    const page = await newPage();
    await signIn(page, ADMIN);
    await page.getByRole('link', { name: 'Forwarding' }).click();
    await ready(page);
    const cells = (id: string) => page.locator(`#${id} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    expect((await cells('destinations'))[0]!.slice(0, 6)).toEqual(['partner', 'sending', '0', '0', '0', '1']);
    const [letter] = await cells('dead');
    expect(letter!.slice(1, 4)).toEqual(['partner', '1', '400']);
    expect(letter![4]).toContain('400');

    accept = true;
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('queued again').waitFor();
    const delivered = async () => ((await (await api('/v1/deliveries?state=delivered')).json()) as { deliveries: unknown[] }).deliveries.length;
    for (let i = 0; i < 100 && (await delivered()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await delivered()).toBe(1);
    expect(received).toHaveLength(2);
    await page.reload();
    await ready(page);
    expect((await cells('destinations'))[0]!.slice(0, 6)).toEqual(['partner', 'sending', '1', '0', '0', '0']);
    expect(await cells('dead')).toEqual([]);

    // The button posts, then reloads the page: wait for that reload's load, not the current page's
    // (already loaded, so waitForLoadState returned before the reload and the next read raced it).
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Pause' }).click()]);
    await ready(page);
    expect((await cells('destinations'))[0]![1]).toBe('paused');
    expect(((await (await api('/v1/destinations')).json()) as { destinations: Array<{ paused: boolean }> }).destinations[0]!.paused).toBe(true);
  } finally {
    await new Promise((resolve) => partner.close(resolve));
  }
});

it('shows the discrepancy and copy reports as the API computes them, status in words, causes one click away', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const upload = await api('/v1/reported', {
    method: 'POST',
    body: JSON.stringify([{ source: 'network', date: today, tz: 'UTC', app_id: APP, ad_network_id: 'example123.skadnetwork', campaign: '39', metric: 'installs', value: 3 }]),
  });
  expect(upload.status).toBe(200);
  const page = await newPage();
  await signIn(page, ADMIN);
  for (const [name, check] of [
    ['discrepancies', 'reported_network_installs'],
    ['copies', 'transactions'],
  ] as const) {
    await page.goto(`${server.url}/dashboard/${name}?days=7&date_basis=arrival`);
    await ready(page);
    const query = (await page.locator('[data-page]').getAttribute('data-query'))!;
    const fromApi = (await (await api(`/v1/reports/${name}?${query}`)).json()) as { rows: Array<Record<string, unknown>> };
    expect(fromApi.rows.length).toBeGreaterThan(0);
    const shown = await page
      .locator('#report-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Object.fromEntries(Array.from(tr.querySelectorAll('td'), (td) => [td.dataset.column, td.textContent]))));
    expect(shown.map((r) => r[check])).toEqual(fromApi.rows.map((r) => (r[check] === null ? '–' : Number(r[check]).toLocaleString('en'))));
    expect(shown.map((r) => r.status)).toEqual(fromApi.rows.map((r) => String(r.status).replace(/_/g, ' ')));
    // The causes, one click away.
    await page.getByText('Why counts differ').click();
    await expect.poll(() => page.getByText('Opt-in share', { exact: true }).isVisible()).toBe(true);
  }
  expect(await page.locator('#report-table tbody tr td[data-column="channel"]').allTextContents()).toContain('direct');
});

it('shows clicks, installs and conversion per link, and marks an install 5 s after its click in the hijacking zone', async () => {
  const partner = (await (await api('/v1/mmp-partners', { method: 'POST', body: JSON.stringify({ name: 'mmp', preset: 'custom' }) })).json()) as { id: number; token: string };
  const link = (await (
    await api('/v1/links', {
      method: 'POST',
      body: JSON.stringify({
        name: 'Spring',
        app_id: APP,
        ad_network_id: 'example123.skadnetwork',
        network_campaign_id: 'nc-39',
        mmp_partner_id: partner.id,
        target_url: 'https://mmp.example/c?id={click_id}',
      }),
    })
  ).json()) as { id: number };
  const clicks = await Promise.all([1, 2, 3, 4].map(() => fetch(`${server.url}/c/${link.id}`, { redirect: 'manual' })));
  const clickId = new URL(clicks[0]!.headers.get('location')!).searchParams.get('id')!;
  // The click log writes its clicks a moment after their redirects; then one install, 5 s after its click.
  const counted = async () => ((await (await api('/v1/reports/mmp')).json()) as { rows: Array<{ clicks: number }> }).rows[0]?.clicks ?? 0;
  for (let i = 0; i < 100 && (await counted()) < 4; i++) await new Promise((r) => setTimeout(r, 50));
  const installTime = String(Math.floor(Date.now() / 1000) + 5);
  const install = await fetch(
    `${server.url}/mmp/${partner.id}?${new URLSearchParams({ token: partner.token, click_id: clickId, event_name: 'install', install_time: installTime })}`,
  );
  expect(await install.json()).toMatchObject({ outcome: 'accepted' });

  const page = await newPage();
  await signIn(page, ADMIN);
  await page.getByRole('link', { name: 'MMP', exact: true }).click();
  await ready(page);
  const cells = (id: string) => page.locator(`#${id} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
  expect((await cells('links')).map((r) => r.slice(0, 5))).toEqual([[String(link.id), 'nc-39', '4', '1', '25.0 %']]);
  expect(await cells('ctit')).toEqual([
    ['under 10 s', '1', 'hijacking'],
    ['10 s – 1 min', '0', '–'],
    ['1 min – 1 h', '0', '–'],
    ['1 h – 24 h', '0', '–'],
    ['over 24 h', '0', 'flooding'],
  ]);
  const plotted = await page.evaluate(() => (window as unknown as { skanpostCharts: { ctit: { data: unknown[] } } }).skanpostCharts.ctit.data);
  expect(plotted).toEqual([
    [0, 1, 2, 3, 4],
    [null, 0, 0, 0, null],
    [1, null, null, null, 0],
  ]);
});

it('manages settings through the API: a schema refused with its errors inline then added, a campaign name, a key shown once', async () => {
  const page = await newPage();
  await signIn(page, ADMIN);
  await page.getByRole('link', { name: 'Settings' }).click();
  await ready(page);
  const schemaForm = page.locator('#schema-form');
  await schemaForm.getByLabel('App').fill(String(APP));
  await schemaForm.getByLabel('or paste it').fill(JSON.stringify({ effective_from: '2026-01-01T00:00:00Z', currency: 'USD', fine: [{ from: 3, to: 1, events: [] }] }));
  await schemaForm.getByRole('button', { name: 'Validate and add' }).click();
  await expect.poll(() => page.locator('#schema-problems li').allTextContents()).toEqual([expect.stringMatching(/^fine\.0/)]);
  // Chromium logs the refusal (400) it was sent on purpose: that one is no fault of the page.
  const refusal = problems.findIndex((p) => /\/dashboard\/settings: Failed to load resource: .* 400/.test(p));
  expect(refusal).toBeGreaterThanOrEqual(0);
  problems.splice(refusal, 1);
  await schemaForm.getByLabel('or paste it').fill(readFileSync(new URL('../../fixtures/conversion-schema.json', import.meta.url), 'utf8'));
  await schemaForm.getByRole('button', { name: 'Validate and add' }).click();
  await expect.poll(() => page.locator('#schema-problems li').allTextContents()).toEqual(['version 1 added']);
  expect(await page.locator('#schemas tbody td[data-column="version"]').allTextContents()).toEqual(['1']);

  const campaignForm = page.locator('#campaign-form');
  await campaignForm.getByLabel('Network', { exact: true }).fill('example123.skadnetwork');
  await campaignForm.getByLabel('App').fill(String(APP));
  await campaignForm.getByLabel('Source identifier').fill('39');
  await campaignForm.getByLabel('Name', { exact: true }).fill('Spring sale');
  await campaignForm.getByRole('button', { name: 'Add' }).click();
  await expect.poll(() => page.locator('#campaign-names tbody td[data-column="name"]').allTextContents()).toEqual(['Spring sale']);
  // The MMP partner and link made earlier, with what to copy.
  expect(await page.locator('#partners tbody td[data-column="install"] code').textContent()).toContain('/mmp/');
  expect(await page.locator('#links tbody td[data-column="click_url"] code').textContent()).toMatch(/\/c\/\d+$/);

  const keyForm = page.locator('#key-form');
  await keyForm.getByLabel('Name').fill('from the dashboard');
  await keyForm.getByLabel('Apps (comma-separated; empty for all)').fill(String(APP));
  await keyForm.getByRole('button', { name: 'Create' }).click();
  const secret = (await page.locator('#new-secret code').textContent({ timeout: 5000 }))!;
  expect(secret).toMatch(/^skp_/);
  // The new key works, within its scope.
  expect((await api(`/v1/reports/campaigns?app_id=${APP}`, {}, secret)).status).toBe(200);
  expect((await api(`/v1/reports/campaigns?app_id=${OTHER_APP}`, {}, secret)).status).toBe(403);
  expect(await page.locator('#keys tbody td[data-column="name"]').allTextContents()).toContain('from the dashboard');
});

it('shows the API reference at /docs from its own origin', async () => {
  const page = await newPage();
  await page.goto(`${server.url}/docs`);
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 });
  expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('skanpost');
  expect(await page.locator('.opblock-summary-path').filter({ hasText: '/v1/reports/discrepancies' }).count()).toBe(1);
});

it('met no console error and asked no other origin for anything', () => {
  expect(problems).toEqual([]);
});
