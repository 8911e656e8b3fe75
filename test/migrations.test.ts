// Data migrations: 0005 repairs rows an older writer stored with absent booleans as false, and
// rebuilds the aggregates from the repaired rows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { runPendingJobs } from '../src/db/maintenance.js';
import { postbacks, rollups } from '../src/db/schema.js';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { openDatabase } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { createTestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

it('0005 gives absent did-win and redownload back their NULL and rebuilds the aggregates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-migrate-'));
  dirs.push(dir);
  const path = join(dir, 'db.sqlite');
  const key = generateKey('P-256');
  const app = await createTestApp({ path, extraKeys: key.spkiBase64 });
  expect((await app.post(signSkan(skanBody('2.1'), key, '2.1'))).status).toBe(200);
  expect((await app.rows())[0]!.didWin).toBeNull(); // the writer itself keeps absent absent
  const winner = signSkan(skanBody('3.0', { 'did-win': false }), key, '3.0');
  expect((await app.post(winner)).status).toBe(200);
  // What the old writer left behind: did_win 0 where the body has none, its rollup counted as lost.
  app.database.sqlite.exec(`UPDATE postbacks SET did_win = 0, decode = 'null' WHERE version = '2.1'; UPDATE rollups SET installs = 0, non_winning = 1 WHERE version = '2.1'`);
  // Forget 0005 and everything after it, so that opening the file applies them again.
  const journal = JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: Array<{ tag: string; when: number }> };
  const since = journal.entries.find((e) => e.tag.startsWith('0005_'))!.when;
  app.database.sqlite.prepare('DELETE FROM __drizzle_migrations WHERE created_at >= ?').run(since);
  await app.close();

  const reopened = openDatabase(path); // applies 0005 again
  const writer = new GroupCommitWriter(reopened.sqlite, reopened.db);
  const rows = await reopened.db.select().from(postbacks);
  expect(rows.map((r) => [r.version, r.didWin])).toEqual([['2.1', null], ['3.0', false]]);
  expect(reopened.sqlite.prepare(`SELECT count(*) AS n FROM postbacks WHERE decode = 'null'`).get()).toEqual({ n: 0 });
  expect(await reopened.db.select().from(rollups)).toEqual([]);
  await runPendingJobs(reopened.db, writer, DEFAULT_INSTALL_MODEL, () => new Date());
  const [v21] = await reopened.db.select({ installs: sql<number>`sum(${rollups.installs})`, nonWinning: sql<number>`sum(${rollups.nonWinning})` }).from(rollups).where(eq(rollups.version, '2.1'));
  expect(v21).toEqual({ installs: 1, nonWinning: 0 });
  const [v30] = await reopened.db.select({ nonWinning: sql<number>`sum(${rollups.nonWinning})` }).from(rollups).where(eq(rollups.version, '3.0'));
  expect(v30).toEqual({ nonWinning: 1 });
  await writer.close();
  reopened.sqlite.close();
});

it('a fresh database gets no rebuild job from 0005', async () => {
  const app = await createTestApp();
  expect(app.database.sqlite.prepare('SELECT count(*) AS n FROM maintenance_jobs').get()).toEqual({ n: 0 });
  await app.close();
});
