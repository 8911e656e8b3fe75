// How values as MMPs write them become fields: four timestamp forms (named or detected), booleans,
// App Store ids, revenue in units or cents, and what is refused, by field.
import { describe, expect, it } from 'vitest';
import { parseAppId, parseBoolean, parseTimestamp, readFields } from '../src/mmp/fields.js';

const at = new Date('2026-11-20T10:15:30Z');

describe('timestamps', () => {
  it.each([
    ['1795169730', null],
    ['1795169730000', null],
    ['2026-11-20T10:15:30Z', null],
    ['2026-11-20T11:15:30+01:00', null],
    ['2026-11-20 10:15:30', null],
    ['2026-11-20 10:15:30.000', null],
    ['1795169730', 'unix_s'],
    ['1795169730000', 'unix_ms'],
    ['2026-11-20 10:15:30', 'datetime'],
  ] as const)('reads %s (%s)', (raw, format) => {
    expect(parseTimestamp(raw, format)).toEqual(at);
  });

  it.each([['yesterday'], ['2026-11-20'], ['17951697300'], ['0'], ['2026-13-45 10:00:00']])('refuses %s', (raw) => {
    expect(parseTimestamp(raw, null)).toBeUndefined();
  });

  it('reads a number as the named unit, whatever its digits', () => {
    expect(parseTimestamp('1795169730', 'unix_ms')).toEqual(new Date(1_795_169_730));
  });
});

it('reads booleans as 1/0/true/false only, and App Store ids with or without id', () => {
  expect(['1', 'true', 'TRUE', '0', 'false'].map(parseBoolean)).toEqual([true, true, true, false, false]);
  expect(parseBoolean('yes')).toBeUndefined();
  expect(parseAppId('id123456789')).toBe(123_456_789);
  expect(parseAppId('123456789')).toBe(123_456_789);
  expect(parseAppId('com.example.app')).toBeUndefined();
});

describe('readFields', () => {
  const options = { timestampFormat: null, revenueUnit: 'units' as const };

  it('calls an install install whatever the MMP names it, and reads revenue in cents when told', () => {
    for (const name of ['install', '_install', 'INSTALL']) expect(readFields({ click_id: 'c', event_name: name }, options).fields.eventName).toBe('install');
    expect(readFields({ click_id: 'c', event_name: 'purchase', revenue: '499' }, { ...options, revenueUnit: 'cents' }).fields.revenue).toBe(4.99);
  });

  it('names every field it refuses, and treats an unfilled macro as absent', () => {
    const { problems } = readFields(
      { event_name: 'purchase', revenue: '1e5', currency: 'dollars', touch_type: 'swipe', app_id: 'x', country_code: 'FRA', attributed: 'maybe', install_time: '' },
      options,
    );
    expect(problems.map((p) => p.field).sort()).toEqual(['app_id', 'attributed', 'click_id', 'country_code', 'currency', 'revenue', 'touch_type']);
    expect(readFields({ event_name: 'install', attributed: '0' }, options).problems).toEqual([]);
    expect(readFields({ click_id: 'c', event_name: 'x', event_value: 'v'.repeat(2049) }, options).problems[0]).toMatchObject({ field: 'event_value' });
  });
});
