// Reading CSV uploads (RFC 4180: fields quoted with ", a quote inside doubled, CRLF or LF line
// ends, a UTF-8 byte-order mark tolerated). Written here rather than taken from a library: csv-parse
// needs Node's Buffer and papaparse pulls in Node's stream module, and the Worker has neither.

export interface CsvRecord {
  /** The line of the file the record starts on, 1-based, as a person counts in an editor. */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Every record of `text`; blank lines are skipped. */
export function readCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const quote = text.indexOf('"', i);
          if (quote < 0) throw new CsvSyntaxError(start, `line ${start}: a quoted field is never closed`);
          field += text.slice(i, quote);
          for (let k = i; k < quote; k++) if (text.charCodeAt(k) === 10) line++;
          i = quote + 1;
          if (text[i] !== '"') break;
          field += '"';
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new CsvSyntaxError(line, `line ${line}: text after a closing quote; quote the whole field and double the quotes inside it`);
        }
      } else {
        let end = i;
        while (end < text.length && text[end] !== ',' && text[end] !== '\n' && text[end] !== '\r') end++;
        field = text.slice(i, end);
        if (field.includes('"')) throw new CsvSyntaxError(line, `line ${line}: a quote inside an unquoted field; quote the field and double the quote`);
        i = end;
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
  }
  return records;
}
