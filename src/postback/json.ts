// Strict JSON for postback bodies: rejects every duplicate key (JSON.parse keeps the last one
// silently), keeps number lexemes so `1.0` or `1e2` are not mistaken for integers, bounds nesting
// depth, and builds null-prototype objects so keys like `__proto__` are plain data.

/** A JSON number that is not a plain safe integer: a fraction, an exponent, `-0`, or too large. */
export class JsonNumber {
  constructor(readonly lexeme: string) {}
  get kind(): 'fraction' | 'huge' {
    return /^-?\d+$/.test(this.lexeme) ? 'huge' : 'fraction';
  }
}

export type JsonValue = null | boolean | number | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
    /** Set when the error is a repeated object key, so callers can name the field. */
    readonly duplicateKey?: string,
  ) {
    super(`${message} at position ${position}`);
  }
}

/** Nesting deeper than this is refused (a postback is two levels deep). */
export const MAX_JSON_DEPTH = 64;
const PLAIN_INTEGER = /^-?(?:0|[1-9]\d*)$/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

export function parseStrictJson(text: string, maxDepth = MAX_JSON_DEPTH): JsonValue {
  let pos = 0;

  const fail = (message: string, duplicateKey?: string): never => {
    throw new JsonSyntaxError(message, pos, duplicateKey);
  };
  const skipWhitespace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos++;
    }
  };
  const literal = <T>(word: string, value: T): T => {
    if (text.startsWith(word, pos)) pos += word.length;
    else fail('unexpected token');
    return value;
  };

  const parseString = (): string => {
    pos++; // opening quote
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos++);
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const e = text[pos + 1];
      if (e === 'u') {
        const hex = text.slice(pos + 2, pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 6;
      } else if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
        pos += 2;
      } else {
        fail('bad escape');
      }
      start = pos;
    }
  };

  const parseNumber = (): number | JsonNumber => {
    NUMBER.lastIndex = pos;
    const match = NUMBER.exec(text);
    if (!match) return fail('unexpected token');
    const lexeme = match[0];
    pos += lexeme.length;
    if (PLAIN_INTEGER.test(lexeme) && lexeme !== '-0') {
      const n = Number(lexeme);
      if (Number.isSafeInteger(n)) return n;
    }
    return new JsonNumber(lexeme);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWhitespace();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      return c === '{' ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return parseNumber();
    return fail(c === undefined ? 'unexpected end of input' : 'unexpected token');
  };

  const parseObject = (depth: number): JsonObject => {
    pos++;
    const obj: JsonObject = Object.create(null);
    skipWhitespace();
    if (text[pos] === '}') {
      pos++;
      return obj;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail('expected a quoted key');
      const keyAt = pos;
      const key = parseString();
      if (Object.hasOwn(obj, key)) {
        pos = keyAt;
        fail(`duplicate key "${key}"`, key);
      }
      skipWhitespace();
      if (text[pos] !== ':') fail('expected ":"');
      pos++;
      obj[key] = parseValue(depth);
      skipWhitespace();
      if (text[pos] === '}') break;
      if (text[pos] !== ',') fail('expected "," or "}"');
      pos++;
    }
    pos++;
    return obj;
  };

  const parseArray = (depth: number): JsonValue[] => {
    pos++;
    const arr: JsonValue[] = [];
    skipWhitespace();
    if (text[pos] !== ']') {
      for (;;) {
        arr.push(parseValue(depth));
        skipWhitespace();
        if (text[pos] === ']') break;
        if (text[pos] !== ',') fail('expected "," or "]"');
        pos++;
      }
    }
    pos++;
    return arr;
  };

  const value = parseValue(0);
  skipWhitespace();
  if (pos < text.length) fail('unexpected data after the JSON value');
  return value;
}

/**
 * JSON text of a parsed value with every number written as it was received (`5.0` stays `5.0`),
 * so a value can be re-serialized without changing what it means.
 */
export function stringifyJson(value: JsonValue): string {
  if (value instanceof JsonNumber) return value.lexeme;
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`;
  if (isJsonObject(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${stringifyJson(v)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** Plain JavaScript data: every JsonNumber as a number (for bodies that are not postbacks). */
export function toPlain(value: JsonValue): unknown {
  if (value instanceof JsonNumber) return Number(value.lexeme);
  if (Array.isArray(value)) return value.map(toPlain);
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}
