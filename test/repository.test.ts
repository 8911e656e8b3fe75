// The repository contract on better-sqlite3 with the group-commit writer (the Node default).
import { afterEach } from 'vitest';
import { openDatabase } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { repositoryContract } from './support/repository-contract.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

repositoryContract('better-sqlite3', async () => {
  const database = openDatabase(':memory:');
  const writer = new GroupCommitWriter(database.sqlite, database.db);
  open.push(async () => {
    await writer.close();
    database.sqlite.close();
  });
  return { db: database.db, writer };
});
