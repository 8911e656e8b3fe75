import { rmSync } from 'node:fs';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { buildPostbackRow, savePostback } from '../src/db/postbacks.js';
import { openDatabase } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { createVerification } from '../src/node/runtime.js';
import { inspectPostback } from '../src/postback/inspect.js';
import { readPostback } from '../src/postback/read.js';
import { readFileSync } from 'node:fs';
const bodies = (JSON.parse(readFileSync('/tmp/bdb/bodies.json', 'utf8')) as string[]).slice(0, 4000);
const verification = await createVerification(readFileSync('/tmp/bdb/key', 'utf8'));
const rows = [];
let t = performance.now();
for (const b of bodies) { const r = readPostback(new TextEncoder().encode(b)); if (!r.ok) throw 1; const i = await inspectPostback(r.postback, verification); rows.push(await buildPostbackRow(r.postback, i, new Date())); }
console.log('read+verify+build per postback µs', ((performance.now() - t) * 1000 / bodies.length).toFixed(0));
for (const sync of ['normal', 'full'] as const) {
  rmSync('/tmp/bdb/w.db', { force: true }); rmSync('/tmp/bdb/w.db-wal', { force: true });
  const d = openDatabase('/tmp/bdb/w.db', { synchronous: sync });
  const w = new GroupCommitWriter(d.sqlite, d.db);
  t = performance.now();
  for (let i = 0; i < rows.length; i += 50) await Promise.all(rows.slice(i, i + 50).map((row) => w.run((db) => savePostback(db, { ...row }, DEFAULT_INSTALL_MODEL))));
  console.log(sync, 'save per postback µs', ((performance.now() - t) * 1000 / rows.length).toFixed(0), w.stats);
  await w.close(); d.sqlite.close();
}
