// The CSV reader against hand-written cases and against the writer every report uses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvLines } from '../src/report/csv.js';
import { CsvSyntaxError, readCsv } from '../src/report/csv-read.js';

describe('readCsv', () => {
  it('reads quoted fields, doubled quotes, CRLF and LF, a BOM, and skips blank lines', () => {
    expect(readCsv('\ufeffa,b\r\n"x, y","say ""hi"""\n\n"two\nlines",\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['two\nlines', ''] },
    ]);
  });

  it('counts lines as an editor does, past fields that hold line breaks', () => {
    expect(readCsv('h\n"a\nb\nc"\nlast').map((r) => r.line)).toEqual([1, 2, 5]);
  });

  it.each([
    ['a,"open\n', /never closed/],
    ['a,"x"y\n', /after a closing quote/],
    ['a,b"c\n', /inside an unquoted field/],
  ])('refuses %j with the line it is on', (text, message) => {
    expect(() => readCsv(text)).toThrow(message);
    expect(() => readCsv(text)).toThrow(CsvSyntaxError);
  });

  it('reads back exactly what the report writer writes', () => {
    // Text the writer keeps as it is: no control characters and no leading formula character.
    const text = fc.string({ unit: fc.constantFrom('a', ',', '"', ' ', 'é', '1', ';') });
    fc.assert(
      fc.property(fc.array(fc.array(text, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 5 }), (rows) => {
        expect(readCsv(csvLines(rows)).map((r) => r.fields)).toEqual(rows);
      }),
      { numRuns: 500 },
    );
  });
});
