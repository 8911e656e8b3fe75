// The strict JSON reader: what JSON.parse lets through and a postback receiver must not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isJsonObject, JsonNumber, JsonSyntaxError, parseStrictJson } from '../src/postback/json.js';

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses, for plain data', () => {
    fc.assert(
      fc.property(fc.jsonValue({ noUnicodeString: false }), (value) => {
        const text = JSON.stringify(value);
        const parsed = parseStrictJson(text);
        const normalise = (v: unknown): unknown =>
          v instanceof JsonNumber
            ? Number(v.lexeme)
            : Array.isArray(v)
              ? v.map(normalise)
              : v && typeof v === 'object'
                ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]))
                : v;
        expect(normalise(parsed)).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects every duplicate key, with the key named, at any depth', () => {
    for (const text of ['{"a":1,"a":1}', '{"a":1,"a":2}', '{"x":{"b":true,"b":false}}', '[{"c":null,"c":null}]', '{"\\u0061":1,"a":1}']) {
      try {
        parseStrictJson(text);
        expect.unreachable(text);
      } catch (error) {
        expect(error).toBeInstanceOf(JsonSyntaxError);
        expect((error as JsonSyntaxError).duplicateKey).toMatch(/^[abc]$/);
      }
    }
  });

  it('returns plain safe integers as numbers and keeps the lexeme of every other number', () => {
    expect(parseStrictJson('[0, -7, 525463029, 9007199254740991]')).toEqual([0, -7, 525463029, 9007199254740991]);
    const [fraction, exponent, negZero, huge] = parseStrictJson('[1.0, 1e2, -0, 99999999999999999999]') as JsonNumber[];
    expect([fraction!.lexeme, exponent!.lexeme, negZero!.lexeme, huge!.lexeme]).toEqual(['1.0', '1e2', '-0', '99999999999999999999']);
    expect([fraction!.kind, exponent!.kind, huge!.kind]).toEqual(['fraction', 'fraction', 'huge']);
  });

  it('treats __proto__ and constructor as data and builds null-prototype objects', () => {
    const value = parseStrictJson('{"__proto__":{"polluted":true},"constructor":{"prototype":1}}');
    expect(isJsonObject(value)).toBe(true);
    expect(Object.getPrototypeOf(value)).toBeNull();
    expect(Object.keys(value as object)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('bounds nesting depth instead of overflowing the stack', () => {
    expect(() => parseStrictJson('['.repeat(10_000) + ']'.repeat(10_000))).toThrow(/nesting deeper than 64/);
    expect(() => parseStrictJson('['.repeat(64) + ']'.repeat(64))).not.toThrow();
  });

  it.each(['{"a":1,}', '[1,]', "{'a':1}", '{"a":01}', '{"a":+1}', '{"a":.5}', '{"a":1} x', 'NaN', '{"a":"\u0001"}', '{"a":"\\x41"}', '{"a":tru}', '{"a" 1}'])(
    'rejects %j',
    (text) => {
      expect(() => parseStrictJson(text)).toThrow(JsonSyntaxError);
    },
  );

  it('never throws anything but JsonSyntaxError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          parseStrictJson(text);
        } catch (error) {
          expect(error).toBeInstanceOf(JsonSyntaxError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
