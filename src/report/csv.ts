// CSV as every report and export writes it: RFC 4180 (CRLF line ends, fields quoted when they hold
// a comma or a quote), and safe to open in a spreadsheet. Text comes from anonymous senders (an
// `ad-network-id` is whatever a device or relay posted), so a cell that a spreadsheet would run as a
// formula is neutralised, and control characters never reach the file raw.

// C0 controls, DEL and C1 controls: written as the escape \uXXXX, so a field never breaks a line,
// never hides text, and its content stays readable.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// A leading =, +, - or @ starts a formula in Excel, LibreOffice and Google Sheets (tab and CR too,
// but those are escaped above): a leading apostrophe makes the cell text (OWASP, "CSV Injection").
const FORMULA = /^[=+\-@]/;

const escapeControl = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One cell. Numbers and booleans are written as they are; only text can carry a formula. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  let text = value.replace(CONTROL, escapeControl);
  if (FORMULA.test(text)) text = `'${text}`;
  return /[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows as CSV lines, each ended by CRLF. */
export const csvLines = (rows: ReadonlyArray<ReadonlyArray<unknown>>): string => rows.map((r) => `${r.map(csvCell).join(',')}\r\n`).join('');
