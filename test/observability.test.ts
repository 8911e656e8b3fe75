// GET /metrics, one log line per request without bodies, and log levels.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/http/app.js';
import { jsonLogger } from '../src/observability/logger.js';
import { IngestMetrics } from '../src/observability/metrics.js';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const ADMIN = 'observability-admin-key-000';
let app: TestApp;
beforeEach(async () => {
  app = await createTestApp({ extraKeys: key.spkiBase64, adminKey: ADMIN });
});
afterEach(async () => {
  await app.close();
});

const metrics = async () => (await app.app.request('/metrics', { headers: { Authorization: `Bearer ${ADMIN}` } })).text();

describe('counters', () => {
  it('keep one sample per set of label values, whatever order the labels were written in', () => {
    const metrics = new IngestMetrics();
    metrics.ingested.inc({ outcome: 'stored', signature: 'verified' });
    metrics.ingested.inc({ signature: 'verified', outcome: 'stored' }, 2);
    metrics.ingested.inc({ outcome: 'stored', signature: 'invalid' });
    metrics.ingested.inc({ outcome: 'verified', signature: 'stored' });
    const lines = metrics
      .text()
      .split('\n')
      .filter((l) => l.startsWith('skanpost_ingest_total{'));
    expect(lines).toEqual([
      'skanpost_ingest_total{outcome="stored",signature="verified"} 3',
      'skanpost_ingest_total{outcome="stored",signature="invalid"} 1',
      'skanpost_ingest_total{outcome="verified",signature="stored"} 1',
    ]);
  });
});

describe('GET /metrics', () => {
  it('needs the admin key', async () => {
    expect((await app.app.request('/metrics')).status).toBe(401);
  });

  it('counts ingests by outcome and verdict, refusals by reason, and times them', async () => {
    const body = signSkan(skanBody('4.0'), key, '4.0');
    await app.post(body);
    await app.post(body);
    await app.postRaw('{"a":1,"a":2}');
    await app.postRaw('x'.repeat(20_000));
    await app.postRaw(null, { method: 'GET' });
    await app.app.request('/v1/destinations', { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: 'p', url: 'http://127.0.0.1:9/' }) });
    const text = await metrics();
    expect(text).toContain('skanpost_ingest_total{outcome="stored",signature="verified"} 1');
    expect(text).toContain('skanpost_ingest_total{outcome="duplicate",signature="verified"} 1');
    expect(text).toContain('skanpost_ingest_rejected_total{reason="invalid_postback"} 1');
    expect(text).toContain('skanpost_ingest_rejected_total{reason="body_too_large"} 1');
    expect(text).toContain('skanpost_ingest_rejected_total{reason="method_not_allowed"} 1');
    expect(text).toMatch(/skanpost_ingest_duration_seconds_count 3\n/); // the 413 is refused before it is read
    expect(text).toContain('# TYPE skanpost_forwarding_deliveries gauge');
  });
});

describe('request log', () => {
  it('writes one line per request with the verdict and never the body', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logged = createApp({ ...app.deps, logger: jsonLogger((l) => lines.push(JSON.parse(l))) });
    const body = signSkan(skanBody('4.0', { 'conversion-value': 42 }), key, '4.0');
    await logged.request('/.well-known/skadnetwork/report-attribution/', { method: 'POST', body: JSON.stringify(body) });
    await logged.request('/healthz');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'request',
        method: 'POST',
        status: 200,
        outcome: 'stored',
        signature: 'verified',
        path: '/.well-known/skadnetwork/report-attribution/',
      }),
      expect.objectContaining({ message: 'request', method: 'GET', path: '/healthz', status: 200 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(body['attribution-signature'] as string);
    expect(JSON.stringify(lines)).not.toContain(body['transaction-id'] as string);
  });

  it('drops levels below SKANPOST_LOG_LEVEL', () => {
    const lines: string[] = [];
    const logger = jsonLogger((l) => lines.push(l), 'warn');
    logger.info('quiet');
    logger.warn('loud');
    logger.error('louder');
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['loud', 'louder']);
  });
});
