// Conversion-value schemas, per-window decoding, the install-date estimate and campaign derivation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { campaignOf } from '../src/conversion/campaign.js';
import { decodeConversion } from '../src/conversion/decode.js';
import { DEFAULT_INSTALL_MODEL, estimateInstall, fillingHorizonMs } from '../src/conversion/install-date.js';
import { type SchemaVersion, schemaInForce } from '../src/conversion/schema.js';
import { ConversionSchema } from '../src/model/conversion-schema.js';

const example = JSON.parse(readFileSync(new URL('../fixtures/conversion-schema.json', import.meta.url), 'utf8'));
const version = (n: number, from: string, overrides: Partial<ConversionSchema> = {}): SchemaVersion => ({
  appId: 1,
  version: n,
  effectiveFrom: new Date(from),
  definition: ConversionSchema.parse({ ...example, effective_from: from, ...overrides }),
});

describe('ConversionSchema', () => {
  it('accepts the documented example in fixtures/', () => {
    expect(ConversionSchema.safeParse(example).success).toBe(true);
  });

  it.each([
    [{ currency: 'usd' }, 'currency'],
    [{ fine: [{ from: 5, to: 3, events: [] }] }, 'fine'],
    [{ fine: [{ from: 0, to: 64, events: [] }] }, 'fine'],
    [
      {
        fine: [
          { from: 0, to: 5, events: [] },
          { from: 5, to: 6, events: [] },
        ],
      },
      'fine',
    ],
    [{ fine: [{ from: 0, to: 0, events: [{ name: 'x', min: 3, max: 1 }] }] }, 'fine'],
    [{ coarse: { '3': { low: { events: [] } } } }, 'coarse'],
    [{ coarse: { '0': { lowest: { events: [] } } } }, 'coarse'],
    [{ effective_from: 'yesterday' }, 'effective_from'],
    [{ extra: true }, ''],
  ])('refuses %j with a path', (change, path) => {
    const result = ConversionSchema.safeParse({ ...example, ...change });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path.join('.')).toContain(path);
  });
});

describe('decodeConversion', () => {
  const schema = version(1, '2026-01-01T00:00:00Z');

  it('decodes a fine value by its range', () => {
    expect(decodeConversion({ conversionValue: 12, coarseConversionValue: null, window: 0 }, schema)).toEqual({
      schemaVersion: 1,
      currency: 'USD',
      events: [{ name: 'purchase', min: 1, max: 1 }],
      revenueMinMicros: 990_000,
      revenueMaxMicros: 9_990_000,
    });
  });

  it('decodes a coarse value with its own window', () => {
    const medium0 = decodeConversion({ conversionValue: null, coarseConversionValue: 'medium', window: 0 }, schema);
    const medium1 = decodeConversion({ conversionValue: null, coarseConversionValue: 'medium', window: 1 }, schema);
    expect(medium0!.events[0]!.name).toBe('tutorial_step');
    expect(medium1!.events[0]!.name).toBe('retained_day_3');
    expect(decodeConversion({ conversionValue: null, coarseConversionValue: 'medium', window: 2 }, schema)).toBeUndefined();
  });

  it('absent stays absent: no value decodes to nothing, while 0 is a real value', () => {
    expect(decodeConversion({ conversionValue: null, coarseConversionValue: null, window: 0 }, schema)).toBeUndefined();
    expect(decodeConversion({ conversionValue: 0, coarseConversionValue: null, window: 0 }, schema)).toMatchObject({ events: [], revenueMinMicros: 0 });
  });

  it('needs a schema', () => {
    expect(decodeConversion({ conversionValue: 12, coarseConversionValue: null, window: 0 }, undefined)).toBeUndefined();
  });
});

describe('schemaInForce', () => {
  const v1 = version(1, '2026-01-01T00:00:00Z');
  const v2 = version(2, '2026-03-01T00:00:00Z');
  const v3 = version(3, '2026-03-01T00:00:00Z');
  it('picks the latest start not after the time, the higher version on a tie', () => {
    expect(schemaInForce([v1, v2], new Date('2025-12-31T23:59:59Z'))).toBeUndefined();
    expect(schemaInForce([v1, v2], new Date('2026-02-28T23:59:59Z'))).toBe(v1);
    expect(schemaInForce([v1, v2], new Date('2026-03-01T00:00:00Z'))).toBe(v2);
    expect(schemaInForce([v3, v1, v2], new Date('2026-06-01T00:00:00Z'))).toBe(v3);
  });
});

describe('estimateInstall', () => {
  const arrival = new Date('2026-06-10T12:00:00Z');
  const hoursBack = (input: Parameters<typeof estimateInstall>[1]) => (arrival.getTime() - estimateInstall(arrival, input).getTime()) / 3_600_000;

  it('SKAN 4 and AAK: end of window plus the mean delay', () => {
    expect(hoursBack({ protocol: 'skan', version: '4.0', window: 0 })).toBe(48 + 36);
    expect(hoursBack({ protocol: 'skan', version: '4.0', window: 1 })).toBe(168 + 84);
    expect(hoursBack({ protocol: 'aak', version: null, window: 2 })).toBe(840 + 84);
  });

  it('SKAN 3 and earlier: the 24 h timer plus the mean delay', () => {
    expect(hoursBack({ protocol: 'skan', version: '3.0', window: 0 })).toBe(24 + 36);
    expect(hoursBack({ protocol: 'skan', version: '1.0', window: 0 })).toBe(60);
  });

  it('takes configured constants', () => {
    const model = { ...DEFAULT_INSTALL_MODEL, window_end_hours: [24, 168, 840] as [number, number, number] };
    expect(arrival.getTime() - estimateInstall(arrival, { protocol: 'skan', version: '4.0', window: 0 }, model).getTime()).toBe(60 * 3_600_000);
  });

  it('a day keeps filling for 41 days by default', () => {
    expect(fillingHorizonMs()).toBe(41 * 24 * 3_600_000);
  });
});

describe('campaignOf', () => {
  it.each([
    [{ sourceIdentifier: '5239', campaignId: null }, '39'],
    [{ sourceIdentifier: '239', campaignId: null }, '39'],
    [{ sourceIdentifier: '39', campaignId: null }, '39'],
    [{ sourceIdentifier: '0042', campaignId: null }, '42'],
    [{ sourceIdentifier: '07', campaignId: null }, '07'],
    [{ sourceIdentifier: null, campaignId: 7 }, '07'],
    [{ sourceIdentifier: null, campaignId: 100 }, '100'],
    [{ sourceIdentifier: null, campaignId: null }, null],
    [{ sourceIdentifier: '12345', campaignId: null }, null],
  ])('%j → %j', (fields, campaign) => {
    expect(campaignOf(fields)).toBe(campaign);
  });
});
