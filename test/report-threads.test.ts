// Reports on reader threads (the Node server's way): the same bodies as in process, the days
// split among threads when the date leads group_by, failures surfaced, threads ended when idle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL, fillingHorizonMs } from '../src/conversion/install-date.js';
import { createApp } from '../src/http/app.js';
import { ReportThreads } from '../src/node/report-threads.js';
import { parseReportQuery } from '../src/report/query.js';
import { renderReportPart, reportBody, splitByDays } from '../src/report/render.js';
import { MAX_REPORT_ROWS, ReportTooLargeError } from '../src/report/run.js';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const ADMIN = 'admin-key-for-tests-0123456789';
const NOW = new Date('2026-06-20T12:00:00Z');
let dir: string;
let app: TestApp;
let threads: ReportThreads;
let now = NOW;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-report-threads-'));
  app = await createTestApp({ path: join(dir, 'db.sqlite'), extraKeys: key.spkiBase64, now: () => now, adminKey: ADMIN });
  // Eight days of postbacks: campaigns, windows, two apps, some late in the UTC day (+05:30 moves them).
  for (let i = 0; i < 60; i++) {
    now = new Date(Date.UTC(2026, 5, 10 + (i % 8), (i * 7) % 24, (i * 13) % 60));
    const body = skanBody('4.0', {
      'app-id': 100 + (i % 2),
      'source-identifier': String(5200 + (i % 5)),
      'postback-sequence-index': i % 3,
      'conversion-value': i % 3 ? undefined : i % 64,
    });
    expect((await app.post(signSkan(body, key, '4.0'))).status).toBe(200);
  }
  now = NOW;
  threads = new ReportThreads(join(dir, 'db.sqlite'));
}, 30_000);

afterAll(async () => {
  await threads.close();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (target: ReturnType<typeof createApp>, query: string) => {
  const r = await target.request(`/v1/reports/${query}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
};

it('answers every report with the body the in-process path gives', async () => {
  const threaded = createApp({ ...app.deps, reports: threads.run, wholeReports: threads.runWhole });
  const queries = [
    'campaigns?from=2026-06-09&to=2026-06-18&tz=Asia/Kolkata&group_by=date,campaign,window',
    'campaigns?from=2026-06-09&to=2026-06-18&group_by=date,app_id&format=csv',
    'campaigns?from=2026-06-09&to=2026-06-18&date_basis=install&group_by=date',
    'campaigns?from=2026-06-09&to=2026-06-18&group_by=campaign,date&app_id=100',
    'campaigns?from=2026-06-09&to=2026-06-18',
    'campaigns?from=2026-06-17&to=2026-06-17&group_by=date,window&format=csv',
    'campaigns?from=2026-01-01&to=2026-01-31&group_by=date',
    'events?from=2026-06-09&to=2026-06-18&group_by=date,event',
    'discrepancies?from=2026-06-09&to=2026-06-18&tz=Asia/Kolkata&group_by=date,campaign',
    'discrepancies?from=2026-06-09&to=2026-06-18&group_by=app_id&skan_date_basis=arrival&format=csv',
    'copies?from=2026-06-09&to=2026-06-18&group_by=date,channel',
  ];
  for (const query of queries) {
    const expected = await get(app.app, query);
    expect(expected.status, query).toBe(200);
    expect(await get(threaded, query), query).toEqual(expected);
  }
  expect(threads.running).toBe(2);
});

it('splits only reports whose rows come in date order', () => {
  const query = (groupBy: string) => parseReportQuery(new URLSearchParams({ from: '2026-06-01', to: '2026-06-09', group_by: groupBy }), 'campaigns', NOW);
  const split = splitByDays(query('date,campaign'), 2);
  expect(split.map((q) => [q.days[0]!.day, q.days.at(-1)!.day])).toEqual([
    ['2026-06-01', '2026-06-04'],
    ['2026-06-05', '2026-06-09'],
  ]);
  expect(splitByDays(query('campaign,date'), 2)).toHaveLength(1);
  expect(splitByDays(query('date'), 20)).toHaveLength(9);
});

it('counts the rows of all parts against the cap', async () => {
  const query = parseReportQuery(new URLSearchParams({ from: '2026-06-10', to: '2026-06-10', group_by: 'date' }), 'campaigns', NOW);
  const part = await renderReportPart([app.database.db], query, NOW, fillingHorizonMs(DEFAULT_INSTALL_MODEL));
  expect(() =>
    reportBody(query, NOW, [
      { ...part, count: MAX_REPORT_ROWS },
      { ...part, count: 1 },
    ]),
  ).toThrow(ReportTooLargeError);
  expect(reportBody(query, NOW, [{ ...part, count: MAX_REPORT_ROWS }])).toContain('"rows":[');
});

it('rejects, rather than hangs, when a thread cannot open the database; ends idle threads', async () => {
  const query = parseReportQuery(new URLSearchParams({ from: '2026-06-10', to: '2026-06-11', group_by: 'date' }), 'campaigns', NOW);
  const broken = new ReportThreads(join(dir, 'missing', 'db.sqlite'));
  await expect(broken.run(query, NOW, 0)).rejects.toThrow();
  for (let i = 0; i < 100 && broken.running > 0; i++) await new Promise((r) => setTimeout(r, 20)); // the other part's thread fails too
  expect(broken.running).toBe(0);
  await broken.close();

  const brief = new ReportThreads(join(dir, 'db.sqlite'), 2, 50);
  expect((await brief.run(query, NOW, 0)).length).toBe(2);
  expect(brief.running).toBe(2);
  for (let i = 0; i < 100 && brief.running > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(brief.running).toBe(0);
  expect((await brief.run(query, NOW, 0)).length).toBe(2); // and start again when asked
  await brief.close();
  await expect(brief.run(query, NOW, 0)).rejects.toThrow(/closed/);
}, 20_000);
