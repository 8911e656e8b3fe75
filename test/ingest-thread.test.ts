// The server's postback writer thread: same outcomes as in process, and a write the database
// cannot take comes back as StorageUnavailableError (503 + Retry-After), never as a receipt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { StorageUnavailableError } from '../src/db/db.js';
import { SqliteUnit } from '../src/db/sqlite/unit.js';
import { DestinationInput } from '../src/forward/destination-input.js';
import { createDestination } from '../src/forward/destinations.js';
import { openDatabase } from '../src/node/database.js';
import { IngestThread } from '../src/node/ingest-thread.js';
import { startPartner } from './support/partner.js';
import { postbackRow } from './support/repository-contract.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(logger?: ConstructorParameters<typeof IngestThread>[2]) {
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-thread-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'db.sqlite');
  const main = openDatabase(dbPath); // migrations, as the server applies them before starting the thread
  cleanup.push(() => void main.sqlite.close());
  const failures: Error[] = [];
  const options = { dbPath, synchronous: 'full' as const, installModel: DEFAULT_INSTALL_MODEL, retention: { unverifiedDays: 90, verifiedDays: undefined } };
  const thread = new IngestThread(options, (e) => failures.push(e), logger);
  cleanup.push(() => thread.close());
  return { dbPath, main, thread, failures };
}

it('stores, dedupes and reports its commits like the in-process writer', async () => {
  const { main, thread, failures } = await setup();
  const row = await postbackRow();
  const stored = await thread.save(row);
  expect(stored.outcome).toBe('stored');
  expect(await thread.save(row)).toEqual({ id: stored.id, outcome: 'duplicate' });
  expect(main.sqlite.prepare('select count(*) as n from postbacks').get()).toEqual({ n: 1 });
  expect(await thread.metrics()).toMatch(/skanpost_group_commit_units_count 2/);
  expect(await thread.metrics()).toMatch(/^skanpost_group_commit_isolated_retries_total 0$/m);
  expect(failures).toEqual([]);
});

it('answers StorageUnavailableError while another connection holds the write lock, then writes again', async () => {
  const { dbPath, thread } = await setup();
  const blocker = new Database(dbPath);
  blocker.exec('BEGIN IMMEDIATE');
  await expect(thread.save(await postbackRow())).rejects.toBeInstanceOf(StorageUnavailableError);
  blocker.exec('ROLLBACK');
  blocker.close();
  expect((await thread.save(await postbackRow())).outcome).toBe('stored');
}, 20_000);

it('refuses work once closed', async () => {
  const { thread } = await setup();
  await thread.close();
  await expect(thread.save(await postbackRow())).rejects.toBeInstanceOf(StorageUnavailableError);
});

it('runs the background work on the thread: releases claims a killed run left, sends, prunes, and logs through the main thread', async () => {
  const logged: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void logged.push({ level, message, fields });
  const { main, thread } = await setup({ info: at('info'), warn: at('warn'), error: at('error') });
  const partner = await startPartner();
  cleanup.push(() => partner.close());
  await createDestination(new SqliteUnit(main.db, main.sqlite), DestinationInput.parse({ name: 'mmp', url: partner.url }), new Date());
  await thread.save(await postbackRow());
  await thread.save(await postbackRow({ signature: 'invalid', receivedAt: new Date(Date.now() - 100 * 86_400_000) }));
  // As a process killed mid-send leaves it: claimed for a long while, never settled.
  main.sqlite.prepare('update deliveries set claimed_until = ?').run(Date.now() + 3_600_000);
  thread.startBackground();
  const count = (where: string) => (main.sqlite.prepare(`select count(*) as n from ${where}`).get() as { n: number }).n;
  for (let i = 0; i < 100 && (count("deliveries where state = 'delivered'") === 0 || count('postbacks') > 1); i++) await new Promise((r) => setTimeout(r, 50));
  expect(count("deliveries where state = 'delivered'")).toBe(1);
  expect(partner.received).toHaveLength(1);
  expect(count("postbacks where signature = 'invalid'")).toBe(0);
  expect(logged).toContainEqual({ level: 'warn', message: 'released deliveries claimed by a previous run', fields: { released: 1 } });
  expect(logged).toContainEqual({ level: 'info', message: 'pruned expired postbacks', fields: { pruned: 1 } });
  await thread.close(); // settles what is in flight, then ends
});
