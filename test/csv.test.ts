// CSV cells are safe in a spreadsheet: no formula runs, no control character arrives raw.
import { describe, expect, it } from 'vitest';
import { csvCell, csvLines } from '../src/report/csv.js';
import { createTestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

describe('csvCell', () => {
  it.each([
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', '\\u0009=1'],
    ['\r=1', '\\u000d=1'],
    ['a\nb', 'a\\u000ab'],
    ['bell\u0007', 'bell\\u0007'],
    ['del\u007f c1\u0085', 'del\\u007f c1\\u0085'],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['a,b', '"a,b"'],
    ['plain', 'plain'],
    ['', ''],
  ])('%j → %s', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('writes numbers, booleans and null as they are', () => {
    expect([csvCell(-1), csvCell(0.5), csvCell(true), csvCell(null), csvCell(undefined)]).toEqual(['-1', '0.5', 'true', '', '']);
    expect(
      csvLines([
        ['a', 1],
        ['=b', null],
      ]),
    ).toBe("a,1\r\n'=b,\r\n");
  });
});

it('a report by ad_network_id neutralises what an anonymous sender posted', async () => {
  const key = generateKey('P-256');
  const ADMIN = 'csv-admin-key-0123456789';
  const app = await createTestApp({ extraKeys: key.spkiBase64, adminKey: ADMIN, now: () => new Date('2026-06-10T12:00:00Z') });
  for (const network of ['=HYPERLINK("http://evil.example","click")', '+cmd|calc', 'line\nbreak']) {
    expect((await app.post(signSkan(skanBody('4.0', { 'ad-network-id': network }), key, '4.0'))).status).toBe(200);
  }
  const r = await app.app.request('/v1/reports/campaigns?from=2026-06-10&to=2026-06-10&group_by=ad_network_id&format=csv', { headers: { Authorization: `Bearer ${ADMIN}` } });
  const text = await r.text();
  const cells = text
    .split('\r\n')
    .slice(1, -1)
    .map((line) => line.slice(0, line.search(/,\d/)));
  expect(cells).toEqual(["'+cmd|calc", `"'=HYPERLINK(""http://evil.example"",""click"")"`, 'line\\u000abreak']);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character but CRLF line ends may be in the file
  expect(text).not.toMatch(/[\u0000-\u0009\u000b\u000c\u000e-\u001f]|\n(?<!\r\n)/);
  await app.close();
});
