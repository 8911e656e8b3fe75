// The dashboard's one script: reads the page's controls from the URL, fetches the page's report
// from /dashboard/api (the API's own report code, with the session), draws the chart with uPlot and
// fills the tables that stand behind every chart as its text alternative. No framework, no build.

const page = document.querySelector('[data-page]');
const params = new URLSearchParams(location.search);

// The time zone is remembered: a URL without one takes the last one chosen.
const savedZone = localStorage.getItem('skanpost.tz');
if (page && !params.has('tz') && savedZone && savedZone !== 'UTC') {
  params.set('tz', savedZone);
  location.replace(`${location.pathname}?${params}`);
} else if (params.has('tz')) {
  localStorage.setItem('skanpost.tz', params.get('tz'));
}

/** A day `n` days before another, both YYYY-MM-DD. */
const before = (day, n) => {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
};

/** The page's report query, as the server computed it from the controls (the API's parameters). */
function reportQuery(extra) {
  const q = new URLSearchParams(page.dataset.query);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

async function report(kind, extra) {
  const response = await fetch(`/dashboard/api/reports/${kind}?${reportQuery(extra)}`, { credentials: 'same-origin' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `the report failed (${response.status})`);
  return body;
}

const number = (v) => (v === null || v === undefined ? '–' : typeof v === 'number' ? v.toLocaleString('en') : String(v));
const percent = (part, whole) => (whole ? `${((part / whole) * 100).toFixed(1)} %` : '–');
const sum = (rows, key) => rows.reduce((s, r) => s + (r[key] || 0), 0);

function element(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function fillTotals(list, entries) {
  list.replaceChildren(...entries.map(([label, value, id]) => element('div', {}, element('dt', {}, label), element('dd', { 'data-total': id }, value))));
}

function fillTable(table, columns, rows, format = {}) {
  const caption = table.querySelector('caption');
  const head = element('thead', {}, element('tr', {}, ...columns.map((c) => element('th', { scope: 'col', 'data-column': c.key }, c.sortable ? element('button', { type: 'button' }, c.label) : c.label))));
  const body = element('tbody');
  for (const row of rows) {
    body.append(element('tr', format.rowAttributes ? format.rowAttributes(row) : {}, ...columns.map((c) => element('td', { 'data-column': c.key }, c.cell ? c.cell(row) : number(row[c.key])))));
  }
  table.replaceChildren(...(caption ? [caption] : []), head, body);
}

function showError(error) {
  page.prepend(element('p', { role: 'alert', class: 'error' }, error.message));
}

// --- Overview

/** Every day of the range, a day without postbacks as zeros: a time series shows its gaps. */
function everyDay(meta, rows) {
  const byDate = new Map(rows.map((r) => [r.date, r]));
  const firstFilling = rows.find((r) => !r.complete)?.date;
  const out = [];
  for (let day = meta.from; day <= meta.to; day = before(day, -1)) {
    const zero = Object.fromEntries(meta.columns.map((c) => [c, typeof rows[0]?.[c] === 'number' ? 0 : null]));
    out.push(byDate.get(day) ?? { ...zero, date: day, postbacks: 0, installs: 0, verified: 0, complete: !(firstFilling && day >= firstFilling) && day < meta.to });
  }
  return out;
}

/** The days table behind a day chart. */
function fillDays(rows) {
  fillTable(
    document.getElementById('days'),
    [
      { key: 'date', label: 'Day', cell: (r) => r.date },
      { key: 'postbacks', label: 'Postbacks' },
      { key: 'verified', label: 'Verified' },
      { key: 'installs', label: 'Installs' },
      { key: 'null_rate', label: 'Null rate', cell: (r) => (r.null_rate === null ? '–' : `${(r.null_rate * 100).toFixed(1)} %`) },
      { key: 'complete', label: 'Complete', cell: (r) => (r.complete ? 'yes' : 'still filling') },
    ],
    rows,
  );
}

async function overview() {
  const [byDay, development] = await Promise.all([report('campaigns', { group_by: 'date' }), report('campaigns', { environment: 'development' })]);
  const rows = everyDay(byDay.meta, byDay.rows);
  const postbacks = sum(rows, 'postbacks');
  const verified = sum(rows, 'verified');
  fillTotals(document.getElementById('totals'), [
    ['Installs', number(sum(rows, 'installs')), 'installs'],
    ['Postbacks', number(postbacks), 'postbacks'],
    ['Verified share', percent(verified, postbacks), 'verified_share'],
    ['Null-value rate', percent(sum(rows, 'null_values'), verified), 'null_rate'],
  ]);
  fillTotals(document.getElementById('verdicts'), [
    ['Verified', number(verified), 'verified'],
    ['Invalid', number(sum(rows, 'invalid')), 'invalid'],
    ['Unverifiable', number(sum(rows, 'unverifiable')), 'unverifiable'],
    ['Development', number(development.rows[0]?.postbacks ?? 0), 'development'],
    ['Conflicts', number(sum(rows, 'conflicts')), 'conflicts'],
    ['Window 0', number(sum(rows, 'window_0')), 'window_0'],
    ['Window 1', number(sum(rows, 'window_1')), 'window_1'],
    ['Window 2', number(sum(rows, 'window_2')), 'window_2'],
  ]);
  fillDays(rows);
  drawDays(rows, 'overview');
}

function drawDays(rows, name) {
  const target = document.getElementById('chart');
  const x = rows.map((r) => Date.parse(`${r.date}T00:00:00Z`) / 1000);
  // A filling day is drawn dashed: its series starts at the last complete day so the lines meet.
  const firstFilling = rows.findIndex((r) => !r.complete);
  const split = (key) => [
    rows.map((r, i) => (firstFilling < 0 || i < firstFilling ? r[key] : null)),
    rows.map((r, i) => (firstFilling >= 0 && i >= firstFilling - 1 ? r[key] : null)),
  ];
  const [postbacksDone, postbacksFilling] = split('postbacks');
  const [installsDone, installsFilling] = split('installs');
  const chart = new uPlot(
    {
      width: Math.max(320, target.clientWidth || 800),
      height: 280,
      scales: { x: { time: true } },
      axes: [{}, { label: 'per day' }],
      series: [
        { label: 'Day', value: (_, v) => (v === null ? '–' : new Date(v * 1000).toISOString().slice(0, 10)) },
        { label: 'Postbacks', stroke: '#1f5fbf', width: 2 },
        { label: 'Postbacks (filling)', stroke: '#1f5fbf', width: 2, dash: [6, 6] },
        { label: 'Installs', stroke: '#1b7f3b', width: 2 },
        { label: 'Installs (filling)', stroke: '#1b7f3b', width: 2, dash: [6, 6] },
      ],
    },
    [x, postbacksDone, postbacksFilling, installsDone, installsFilling],
    target,
  );
  window.skanpostCharts = { ...(window.skanpostCharts || {}), [name]: chart };
}

// --- Campaigns

async function campaigns() {
  const { rows } = await report('campaigns', {});
  const columns = [
    { key: 'ad_network_id', label: 'Network', cell: (r) => r.ad_network_id ?? '–' },
    { key: 'app_id', label: 'App', cell: (r) => (r.app_id === null ? '–' : String(r.app_id)) },
    { key: 'campaign', label: 'Campaign', cell: (r) => r.campaign ?? '–' },
    { key: 'campaign_name', label: 'Name', cell: (r) => r.campaign_name ?? '–' },
    { key: 'installs', label: 'Installs' },
    { key: 'redownloads', label: 'Redownloads' },
    { key: 'reengagements', label: 'Re-engagements' },
    { key: 'window_0', label: 'Window 0' },
    { key: 'window_1', label: 'Window 1' },
    { key: 'window_2', label: 'Window 2' },
    { key: 'null_rate', label: 'Null rate', cell: (r) => (r.null_rate === null ? '–' : `${(r.null_rate * 100).toFixed(1)} %`) },
    { key: 'revenue_min', label: 'Revenue from', cell: (r) => (r.revenue_min === null ? '–' : `${r.revenue_min.toLocaleString('en')} ${r.currency ?? ''}`.trim()) },
    { key: 'revenue_max', label: 'Revenue to', cell: (r) => (r.revenue_max === null ? '–' : `${r.revenue_max.toLocaleString('en')} ${r.currency ?? ''}`.trim()) },
  ].map((c) => ({ ...c, sortable: true }));
  const table = document.getElementById('campaign-table');
  const state = { rows, key: 'installs', descending: true, filter: '' };
  const render = () => {
    const needle = state.filter.toLowerCase();
    const shown = state.rows
      .filter((r) => !needle || [r.ad_network_id, r.app_id, r.campaign, r.campaign_name].some((v) => v !== null && String(v).toLowerCase().includes(needle)))
      .sort((a, b) => {
        const [x, y] = [a[state.key], b[state.key]];
        const order = x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
        return state.descending ? -order : order;
      });
    fillTable(table, columns, shown, {
      rowAttributes: (r) => ({ 'data-href': `/dashboard/campaigns/${[r.ad_network_id, r.app_id, r.campaign].map((v) => encodeURIComponent(v === null ? 'null' : String(v))).join('/')}?${params}` }),
    });
    // A row opens its campaign: by a click, or by Enter on the campaign's link.
    for (const tr of table.querySelectorAll('tbody tr')) {
      const cell = tr.querySelector('td[data-column="campaign"]');
      cell.replaceChildren(element('a', { href: tr.dataset.href }, cell.textContent));
      tr.addEventListener('click', (event) => {
        if (event.target.closest('a')) return;
        location.href = tr.dataset.href;
      });
    }
    for (const th of table.querySelectorAll('th')) {
      th.setAttribute('aria-sort', th.dataset.column === state.key ? (state.descending ? 'descending' : 'ascending') : 'none');
      th.querySelector('button')?.addEventListener('click', () => {
        state.descending = state.key === th.dataset.column ? !state.descending : true;
        state.key = th.dataset.column;
        render();
      });
    }
  };
  document.getElementById('filter').addEventListener('input', (event) => {
    state.filter = event.target.value;
    render();
  });
  render();
}

// --- One campaign

async function campaign() {
  const [byDay, byValue, byWindow, events] = await Promise.all([
    report('campaigns', { group_by: 'date' }),
    report('campaigns', { group_by: 'conversion_value', window: '0' }),
    report('campaigns', { group_by: 'window' }),
    report('events', { group_by: 'event' }),
  ]);
  const days = everyDay(byDay.meta, byDay.rows);
  fillDays(days);
  drawDays(days, 'campaign');
  const values = byValue.rows.filter((r) => r.conversion_value !== null);
  fillTable(document.getElementById('values'), [{ key: 'conversion_value', label: 'Fine value', cell: (r) => String(r.conversion_value) }, { key: 'verified', label: 'Postbacks' }], values);
  const target = document.getElementById('values-chart');
  const chart = new uPlot(
    {
      width: Math.max(320, target.clientWidth || 800),
      height: 220,
      scales: { x: { time: false } },
      axes: [{ label: 'fine value' }, { label: 'postbacks' }],
      series: [{ label: 'Value' }, { label: 'Postbacks', stroke: '#1f5fbf', fill: '#1f5fbf55', paths: uPlot.paths.bars({ size: [0.8] }) }],
    },
    [values.map((r) => r.conversion_value), values.map((r) => r.verified)],
    target,
  );
  window.skanpostCharts = { ...(window.skanpostCharts || {}), values: chart };
  fillTable(
    document.getElementById('coarse'),
    [
      { key: 'window', label: 'Window', cell: (r) => String(r.window) },
      { key: 'coarse_low', label: 'Low' },
      { key: 'coarse_medium', label: 'Medium' },
      { key: 'coarse_high', label: 'High' },
      { key: 'null_values', label: 'No value' },
    ],
    byWindow.rows,
  );
  fillTable(
    document.getElementById('events'),
    [{ key: 'event', label: 'Event', cell: (r) => r.event }, { key: 'postbacks', label: 'Postbacks' }, { key: 'count_min', label: 'Count from' }, { key: 'count_max', label: 'Count to' }],
    events.rows,
  );
}

// --- Forwarding (admin)

/** A change through the API's own route, with the session's CSRF token. */
async function post(path, body) {
  const csrf = document.querySelector('input[name="csrf"]').value;
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body ?? {}) });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.detail || `the request failed (${response.status})`);
  return answer;
}

async function forwarding() {
  const get = async (path) => {
    const response = await fetch(`/dashboard/api/v1/${path}`);
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || `the request failed (${response.status})`);
    return body;
  };
  const { destinations } = await get('destinations');
  const stats = await Promise.all(destinations.map((d) => get(`destinations/${d.id}/stats`)));
  const rows = destinations.map((d, i) => ({ ...d, ...stats[i] }));
  const action = (d) => {
    const verb = d.paused ? 'resume' : 'pause';
    const button = element('button', { type: 'button', 'data-action': verb }, d.paused ? 'Resume' : 'Pause');
    button.addEventListener('click', () => post(`/dashboard/api/v1/destinations/${d.id}/${verb}`).then(() => location.reload(), showError));
    return button;
  };
  fillTable(
    document.getElementById('destinations'),
    [
      { key: 'name', label: 'Destination', cell: (d) => d.name },
      { key: 'state', label: 'State', cell: (d) => (!d.enabled ? 'disabled' : d.paused ? 'paused' : 'sending') },
      { key: 'delivered', label: 'Delivered' },
      { key: 'pending', label: 'Pending' },
      { key: 'retrying', label: 'Retrying' },
      { key: 'dead', label: 'Dead' },
      { key: 'latency', label: 'Latency p50 / p95', cell: (d) => (d.latency_ms.p50 === null ? '–' : `${d.latency_ms.p50} / ${d.latency_ms.p95} ms`) },
      { key: 'last_error', label: 'Last error', cell: (d) => d.last_error?.error ?? '–' },
      { key: 'action', label: 'Action', cell: action },
    ],
    rows,
    { rowAttributes: (d) => ({ 'data-destination': String(d.id) }) },
  );
  const names = new Map(destinations.map((d) => [d.id, d.name]));
  const { deliveries } = await get('deliveries?state=dead');
  const replay = (d) => {
    const button = element('button', { type: 'button' }, 'Replay');
    button.addEventListener('click', () =>
      post('/dashboard/api/v1/deliveries/replay', { ids: [d.id] }).then(() => {
        button.replaceWith('queued again');
      }, showError),
    );
    return button;
  };
  fillTable(
    document.getElementById('dead'),
    [
      { key: 'id', label: 'Delivery', cell: (d) => String(d.id) },
      { key: 'destination', label: 'Destination', cell: (d) => names.get(d.destination_id) ?? (d.destination_id === null ? 'impression ping' : String(d.destination_id)) },
      { key: 'attempts', label: 'Attempts' },
      { key: 'last_status', label: 'Last status', cell: (d) => (d.last_status === null ? '–' : String(d.last_status)) },
      { key: 'last_error', label: 'Last error', cell: (d) => d.last_error ?? '–' },
      { key: 'replay', label: 'Replay', cell: replay },
    ],
    deliveries,
  );
}

// --- Discrepancies and copies: the report's own columns, the status in words and colour

const STATUS = {
  ok: 'within the threshold',
  over_threshold: 'a gap beyond the threshold: look at it',
  incomplete: 'SKAN postbacks for these days can still arrive',
  no_reference: 'the reference reported nothing (or 0) here',
};

async function reportPage() {
  const { rows, meta } = await report(page.dataset.report, {});
  const columns = meta.columns.map((key) => ({
    key,
    label: key.replace(/_/g, ' '),
    cell: (r) => {
      const v = r[key];
      if (key === 'status') return element('span', { class: `status status-${v}`, title: STATUS[v] ?? '' }, `${v.replace(/_/g, ' ')}`);
      if (v === null || v === undefined) return '–';
      if (typeof v === 'boolean') return v ? 'yes' : 'no';
      return key.endsWith('_pct') ? `${v > 0 ? '+' : ''}${v} %` : typeof v === 'number' ? v.toLocaleString('en') : String(v);
    },
  }));
  fillTable(document.getElementById('report-table'), columns, rows, { rowAttributes: (r) => ({ 'data-status': r.status }) });
}

// --- MMP postbacks

const CTIT = [
  ['ctit_under_10s', 'under 10 s', 'hijacking'],
  ['ctit_10s_1m', '10 s – 1 min', ''],
  ['ctit_1m_1h', '1 min – 1 h', ''],
  ['ctit_1h_24h', '1 h – 24 h', ''],
  ['ctit_over_24h', 'over 24 h', 'flooding'],
];

async function mmp() {
  const [byLink, totals] = await Promise.all([report('mmp', { group_by: 'link_id,network_campaign_id' }), report('mmp', {})]);
  fillTable(
    document.getElementById('links'),
    [
      { key: 'link_id', label: 'Link', cell: (r) => (r.link_id === null ? 'no click' : String(r.link_id)) },
      { key: 'network_campaign_id', label: 'Network campaign', cell: (r) => r.network_campaign_id ?? '–' },
      { key: 'clicks', label: 'Clicks' },
      { key: 'installs', label: 'Installs' },
      { key: 'conversion_rate', label: 'Conversion', cell: (r) => (r.conversion_rate === null ? '–' : `${(r.conversion_rate * 100).toFixed(1)} %`) },
      { key: 'events', label: 'Events' },
      { key: 'revenue', label: 'Revenue', cell: (r) => (r.revenue === null ? (r.currency === 'MIXED' ? 'mixed currencies' : '–') : `${r.revenue.toLocaleString('en')} ${r.currency ?? ''}`.trim()) },
      { key: 'fraud_rejected', label: 'Fraud-rejected' },
      { key: 'unattributed', label: 'Unattributed' },
    ],
    byLink.rows,
  );
  const all = totals.rows[0] ?? {};
  const counts = CTIT.map(([key]) => all[key] ?? 0);
  fillTable(
    document.getElementById('ctit'),
    [
      { key: 'bucket', label: 'Click to install', cell: (r) => r.label },
      { key: 'installs', label: 'Installs' },
      { key: 'zone', label: 'Zone', cell: (r) => r.zone || '–' },
    ],
    CTIT.map(([, label, zone], i) => ({ label, zone, installs: counts[i] })),
  );
  const target = document.getElementById('ctit-chart');
  const bars = uPlot.paths.bars({ size: [0.7] });
  const chart = new uPlot(
    {
      width: Math.max(320, target.clientWidth || 800),
      height: 220,
      scales: { x: { time: false, range: [-0.5, CTIT.length - 0.5] } },
      axes: [{ values: (_, ticks) => ticks.map((t) => CTIT[t]?.[1] ?? ''), incrs: [1] }, { label: 'installs' }],
      series: [
        { label: 'Time' },
        { label: 'Installs', stroke: '#1f5fbf', fill: '#1f5fbf88', paths: bars },
        { label: 'Installs in a fraud zone', stroke: '#b3261e', fill: '#b3261e88', paths: bars },
      ],
    },
    [CTIT.map((_, i) => i), counts.map((n, i) => (CTIT[i][2] ? null : n)), counts.map((n, i) => (CTIT[i][2] ? n : null))],
    target,
  );
  window.skanpostCharts = { ...(window.skanpostCharts || {}), ctit: chart };
}

// --- Settings (admin): through the API's own routes

/** A change through the API: the answer, or the problems it lists (shown beside the form). */
async function send(method, path, body) {
  const csrf = document.querySelector('input[name="csrf"]').value;
  const response = await fetch(`/dashboard/api/v1/${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = response.status === 204 ? {} : await response.json();
  return response.ok ? { ok: true, answer } : { ok: false, problems: answer.problems ?? [{ field: answer.parameter ?? '', reason: answer.detail }] };
}

function showProblems(list, problems) {
  list.replaceChildren(...problems.map((p) => element('li', {}, `${p.field ? `${p.field}: ` : ''}${p.reason}`)));
}

async function getJson(path) {
  const response = await fetch(`/dashboard/api/v1/${path}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `the request failed (${response.status})`);
  return body;
}

/** A button that deletes through the API, then reloads its table. */
function deleteButton(path, reload) {
  const button = element('button', { type: 'button' }, 'Delete');
  button.addEventListener('click', () => send('DELETE', path).then(reload, showError));
  return button;
}

function copyButton(text) {
  const button = element('button', { type: 'button' }, 'Copy');
  button.addEventListener('click', () => navigator.clipboard?.writeText(text).then(() => (button.textContent = 'Copied')));
  return element('span', {}, element('code', {}, text), ' ', button);
}

async function settings() {
  const schemaForm = document.getElementById('schema-form');
  const schemaProblems = document.getElementById('schema-problems');
  const showVersions = async () => {
    const app = schemaForm.app_id.value.trim();
    if (!/^\d+$/.test(app)) return showProblems(schemaProblems, [{ field: 'app', reason: 'an app id is a number' }]);
    const { schemas } = await getJson(`apps/${app}/schemas`);
    fillTable(
      document.getElementById('schemas'),
      [
        { key: 'version', label: 'Version', cell: (v) => String(v.version) },
        { key: 'effective_from', label: 'In force from', cell: (v) => v.effective_from },
        { key: 'currency', label: 'Currency', cell: (v) => v.definition?.currency ?? '–' },
      ],
      schemas,
    );
  };
  document.getElementById('schema-versions').addEventListener('click', () => showVersions().catch(showError));
  schemaForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = schemaForm.file.files[0];
    const text = file ? await file.text() : schemaForm.text.value;
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      return showProblems(schemaProblems, [{ field: 'schema', reason: `not JSON: ${error.message}` }]);
    }
    const result = await send('POST', `apps/${schemaForm.app_id.value.trim()}/schemas`, schema);
    showProblems(schemaProblems, result.ok ? [] : result.problems);
    if (result.ok) {
      // The versions first, then the word that it is done: whoever reads "added" sees the new version listed.
      await showVersions();
      schemaProblems.replaceChildren(element('li', { class: 'done' }, `version ${result.answer.version} added`));
    }
  });

  const campaignForm = document.getElementById('campaign-form');
  const loadCampaigns = async () => {
    const { campaigns } = await getJson('campaigns');
    fillTable(
      document.getElementById('campaign-names'),
      [
        { key: 'ad_network_id', label: 'Network', cell: (m) => m.ad_network_id },
        { key: 'app_id', label: 'App', cell: (m) => String(m.app_id) },
        { key: 'source_identifier', label: 'Source identifier', cell: (m) => m.source_identifier },
        { key: 'name', label: 'Name', cell: (m) => m.name },
        { key: 'network_campaign_id', label: 'Network campaign', cell: (m) => m.network_campaign_id ?? '–' },
        { key: 'delete', label: 'Delete', cell: (m) => deleteButton(`campaigns/${m.id}`, loadCampaigns) },
      ],
      campaigns,
    );
  };
  campaignForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = campaignForm;
    const body = { ad_network_id: f.ad_network_id.value, app_id: Number(f.app_id.value), source_identifier: f.source_identifier.value, name: f.elements.name.value };
    if (f.network_campaign_id.value) body.network_campaign_id = f.network_campaign_id.value;
    const result = await send('POST', 'campaigns', body);
    showProblems(document.getElementById('campaign-problems'), result.ok ? [] : result.problems);
    if (result.ok) await loadCampaigns();
  });

  const keyForm = document.getElementById('key-form');
  const loadKeys = async () => {
    const { keys } = await getJson('keys');
    fillTable(
      document.getElementById('keys'),
      [
        { key: 'name', label: 'Name', cell: (k) => k.name },
        { key: 'role', label: 'Role', cell: (k) => k.role },
        { key: 'scope', label: 'Apps', cell: (k) => (k.app_ids ? k.app_ids.join(', ') : 'all') },
        { key: 'prefix', label: 'Starts with', cell: (k) => k.prefix },
        { key: 'delete', label: 'Delete', cell: (k) => deleteButton(`keys/${k.id}`, loadKeys) },
      ],
      keys,
    );
  };
  keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const apps = keyForm.app_ids.value.split(',').map((v) => v.trim()).filter(Boolean);
    const body = { name: keyForm.elements.name.value, role: keyForm.role.value, ...(apps.length ? { app_ids: apps.map(Number) } : {}) };
    const result = await send('POST', 'keys', body);
    showProblems(document.getElementById('key-problems'), result.ok ? [] : result.problems);
    if (result.ok) {
      await loadKeys();
      document.getElementById('new-secret').replaceChildren('The new key (shown this once): ', copyButton(result.answer.secret));
    }
  });

  const [{ mmp_partners: partners }, { links }] = await Promise.all([getJson('mmp-partners').catch(() => ({ mmp_partners: [] })), getJson('links')]);
  fillTable(
    document.getElementById('partners'),
    [
      { key: 'name', label: 'Partner', cell: (p) => `${p.name} (${p.preset})` },
      { key: 'install', label: 'Install postback URL', cell: (p) => copyButton(p.postback_url_templates.install) },
      { key: 'event', label: 'Event postback URL', cell: (p) => copyButton(p.postback_url_templates.event) },
    ],
    partners,
  );
  fillTable(
    document.getElementById('links'),
    [
      { key: 'name', label: 'Link', cell: (l) => l.name },
      { key: 'app_id', label: 'App', cell: (l) => String(l.app_id) },
      { key: 'network_campaign_id', label: 'Network campaign', cell: (l) => l.network_campaign_id },
      { key: 'click_url', label: 'Click URL', cell: (l) => copyButton(l.click_url) },
    ],
    links,
  );
  await Promise.all([loadCampaigns(), loadKeys()]);
}

const pages = { overview, campaigns, campaign, forwarding, mmp, settings, report: reportPage };
if (page && pages[page.dataset.page]) {
  pages[page.dataset.page]()
    .then(() => page.setAttribute('data-ready', 'true'))
    .catch(showError);
}
