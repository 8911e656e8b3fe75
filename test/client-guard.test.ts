// The allowlist, the per-address rate limit and which address is believed behind a proxy.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/http/app.js';
import { clientAddress, GuardConfigError, parseAllowlist, RateLimiter } from '../src/http/client-guard.js';
import { inRanges } from '../src/model/cidr.js';
import { createTestApp, SKAN_PATH, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

describe('allowlist', () => {
  const ranges = parseAllowlist('17.0.0.0/8, 2620:149::/32, 203.0.113.7');
  it.each([
    ['17.1.2.3', true],
    ['::ffff:17.1.2.3', true],
    ['18.1.2.3', false],
    ['2620:149:a::1', true],
    ['2620:150::1', false],
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['not an address', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(inRanges(address, ranges)).toBe(expected);
  });
  it('is open when empty, and refuses a malformed entry at start', () => {
    expect(inRanges(undefined, parseAllowlist(''))).toBe(true);
    expect(() => parseAllowlist('10.0.0.0/8, 10.0.0/33')).toThrow(GuardConfigError);
  });
});

describe('client address', () => {
  const headers = new Headers({ 'x-forwarded-for': '198.51.100.9, 10.0.0.2, 192.0.2.44', 'cf-connecting-ip': '192.0.2.1' });
  it('is the socket address unless a proxy header is trusted; X-Forwarded-For takes the entry the proxy appended', () => {
    expect(clientAddress(headers, '10.0.0.1', undefined)).toBe('10.0.0.1');
    expect(clientAddress(headers, '10.0.0.1', 'X-Forwarded-For')).toBe('192.0.2.44');
    expect(clientAddress(headers, '10.0.0.1', 'cf-connecting-ip')).toBe('192.0.2.1');
    expect(clientAddress(new Headers(), '10.0.0.1', 'x-real-ip')).toBeUndefined();
  });
});

describe('rate limit', () => {
  it('allows a burst, then the rate, per address', () => {
    const limiter = new RateLimiter(2, 3);
    expect([0, 0, 0, 0].map(() => limiter.take('a', 0))).toEqual([undefined, undefined, undefined, 1]);
    expect(limiter.take('b', 0)).toBeUndefined();
    expect(limiter.take('a', 500)).toBeUndefined(); // one token back after half a second
    expect(limiter.take('a', 500)).toBe(1);
  });
  it('forgets the oldest addresses past its bound', () => {
    const limiter = new RateLimiter(1, 1, 2);
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('c', 0);
    expect(limiter.take('a', 0)).toBeUndefined(); // a was forgotten, so it starts full again
  });
});

describe('at the ingest endpoint', () => {
  const key = generateKey('P-256');
  let app: TestApp;
  beforeEach(async () => {
    app = await createTestApp({ extraKeys: key.spkiBase64 });
  });
  afterEach(async () => {
    await app.close();
  });
  const post = (guarded: ReturnType<typeof createApp>, address: string) =>
    guarded.request(SKAN_PATH, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')), headers: { 'X-Forwarded-For': address } });

  it('refuses addresses outside the allowlist with 403 and stores nothing', async () => {
    const guarded = createApp({ ...app.deps, guard: { allowlist: parseAllowlist('17.0.0.0/8'), trustedHeader: 'x-forwarded-for' } });
    expect((await post(guarded, '17.5.5.5')).status).toBe(200);
    const refused = await post(guarded, '198.51.100.1');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ reason: 'not_allowed' });
    expect(await app.rows()).toHaveLength(1);
  });

  it('answers 429 with Retry-After past the rate, per address', async () => {
    const guarded = createApp({ ...app.deps, guard: { allowlist: [], limiter: new RateLimiter(1, 2), trustedHeader: 'x-forwarded-for' } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(guarded, '192.0.2.1')).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect((await post(guarded, '192.0.2.2')).status).toBe(200);
    const limited = await post(guarded, '192.0.2.1');
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ reason: 'rate_limited' });
  });
});
