// Configuration parsing: defaults, and clear refusals of bad values.
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { buildKeyRing } from '../src/postback/keys.js';
import { generateKey } from './support/signing.js';

describe('readConfig', () => {
  it('needs nothing: port 8787, ./data/skanpost.db, synchronous FULL, no extra keys', () => {
    expect(readConfig({})).toEqual({
      port: 8787,
      dbPath: './data/skanpost.db',
      extraKeys: '',
      synchronous: 'full',
      installModel: DEFAULT_INSTALL_MODEL,
      adminKey: undefined,
      maxInFlight: 2048,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      logLevel: 'info',
      metricsPort: undefined,
      retentionDays: 90,
      retentionVerifiedDays: undefined,
      rateLimit: undefined,
      rateBurst: undefined,
      trustedProxyHeader: undefined,
      allowlist: '',
      clickSecrets: [],
      sessionSecrets: [],
      publicUrl: undefined,
      discrepancyThresholdPct: 10,
      ingestMode: 'direct',
    });
  });

  it('takes the discrepancy threshold in percent', () => {
    expect(readConfig({ SKANPOST_DISCREPANCY_THRESHOLD_PCT: '7.5' }).discrepancyThresholdPct).toBe(7.5);
  });

  it('takes click secrets comma-separated and a public origin without its trailing slash', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    expect(readConfig({ SKANPOST_CLICK_SECRET: ` ${a}, ${b} `, SKANPOST_PUBLIC_URL: 'https://postbacks.example.com/' })).toMatchObject({
      clickSecrets: [a, b],
      publicUrl: 'https://postbacks.example.com',
    });
  });

  it('takes install-model constants as JSON, defaults for the rest', () => {
    const { installModel } = readConfig({ SKANPOST_INSTALL_MODEL: '{"legacy_end_hours": 48}' });
    expect(installModel).toEqual({ ...DEFAULT_INSTALL_MODEL, legacy_end_hours: 48 });
  });

  it('takes PORT, SKANPOST_DB and the documented opt-in to synchronous=NORMAL', () => {
    expect(readConfig({ PORT: '9000', SKANPOST_DB: '/var/lib/skanpost.db', SKANPOST_SYNCHRONOUS: 'NORMAL' })).toMatchObject({
      port: 9000,
      dbPath: '/var/lib/skanpost.db',
      synchronous: 'normal',
    });
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a port number/],
    [{ PORT: '70000' }, /PORT must be a port number/],
    [{ SKANPOST_SYNCHRONOUS: 'off' }, /SKANPOST_SYNCHRONOUS must be "full" or "normal"/],
    [{ SKANPOST_INSTALL_MODEL: '{' }, /SKANPOST_INSTALL_MODEL is invalid: not JSON/],
    [{ SKANPOST_MAX_INFLIGHT: '0' }, /SKANPOST_MAX_INFLIGHT must be a positive whole number/],
    [{ SKANPOST_LOG_LEVEL: 'loud' }, /SKANPOST_LOG_LEVEL must be debug, info, warn or error/],
    [{ SKANPOST_RATE_LIMIT: 'fast' }, /SKANPOST_RATE_LIMIT must be a number of requests per second/],
    [{ SKANPOST_TRUSTED_PROXY_HEADER: 'X Forwarded' }, /SKANPOST_TRUSTED_PROXY_HEADER must be a header name/],
    [{ SKANPOST_REQUEST_TIMEOUT_MS: '1.5' }, /SKANPOST_REQUEST_TIMEOUT_MS must be a positive whole number/],
    [{ SKANPOST_ADMIN_KEY: 'short' }, /SKANPOST_ADMIN_KEY must be at least 16 characters/],
    [{ SKANPOST_CLICK_SECRET: `${'a'.repeat(32)},short` }, /SKANPOST_CLICK_SECRET: each secret must be at least 32 characters/],
    [{ SKANPOST_PUBLIC_URL: 'postbacks.example.com' }, /SKANPOST_PUBLIC_URL must be an origin/],
    [{ SKANPOST_INGEST_MODE: 'later' }, /SKANPOST_INGEST_MODE must be direct or queue/],
    [{ SKANPOST_DISCREPANCY_THRESHOLD_PCT: '-5' }, /SKANPOST_DISCREPANCY_THRESHOLD_PCT must be a number of percent/],
    [{ SKANPOST_DISCREPANCY_THRESHOLD_PCT: 'ten' }, /SKANPOST_DISCREPANCY_THRESHOLD_PCT must be a number of percent/],
    [{ SKANPOST_PUBLIC_URL: 'https://postbacks.example.com/path' }, /SKANPOST_PUBLIC_URL must be an origin/],
    [{ SKANPOST_INSTALL_MODEL: '{"legacy_end_hours":-1}' }, /SKANPOST_INSTALL_MODEL is invalid: legacy_end_hours/],
    [{ SKANPOST_INSTALL_MODEL: '{"delay_hours":[[48,24],[24,144],[24,144]]}' }, /delay_hours.0: a delay range is \[min, max\]/],
  ])('refuses %j', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
});

describe('SKANPOST_EXTRA_KEYS', () => {
  it('adds bare SKAN keys of either curve and AAK keys by kid', async () => {
    const ring = await buildKeyRing(
      ` ${generateKey('P-256').spkiBase64} , ${generateKey('P-192').spkiBase64},aak:k/0=${generateKey('P-256').spkiBase64},aak-dev:d/0=${generateKey('P-256').spkiBase64}`,
    );
    expect(ring.extra).toHaveLength(4);
    expect(ring.extra[0]).toMatch(/^extra-p-256-[0-9a-f]{16}$/);
    expect(ring.extra[1]).toMatch(/^extra-p-192-[0-9a-f]{16}$/);
    expect(ring.aak.get('k/0')?.environment).toBe('production');
    expect(ring.aak.get('d/0')?.environment).toBe('development');
  });

  it("is empty by default: only Apple's keys are trusted", async () => {
    const ring = await buildKeyRing();
    expect(ring.extra).toEqual([]);
    expect(ring.skan.map((k) => k.id)).toEqual(['apple-skan-p256', 'apple-skan-p192']);
    expect([...ring.aak.keys()]).toEqual(['apple-cas-identifier/0', 'apple-development-identifier/0', 'apple-development-identifier/1']);
  });

  it.each([
    ['garbage!', /entry 1: expected SPKI/],
    ['QUJD', /entry 1: not a base64 DER SubjectPublicKeyInfo/],
    [`${generateKey('P-256').spkiBase64},aak:x=QUJD`, /entry 2: not a base64 DER/],
  ])('refuses %s', async (value, message) => {
    await expect(buildKeyRing(value)).rejects.toThrow(message);
  });
});

it('every example var in wrangler.toml, commented out or not, is one readConfig accepts', async () => {
  const { readFileSync } = await import('node:fs');
  const toml = readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8');
  const examples = [...toml.matchAll(/^#?\s*(SKANPOST_[A-Z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/gm)].map((m) => [m[1]!, m[2] ?? m[3]!] as const);
  expect(examples.map(([name]) => name)).toEqual(expect.arrayContaining(['SKANPOST_INSTALL_MODEL', 'SKANPOST_RATE_LIMIT', 'SKANPOST_ALLOWLIST']));
  for (const [name, value] of examples) expect(() => readConfig({ [name]: value }), `${name} = ${value}`).not.toThrow();
});
