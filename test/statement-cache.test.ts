// The Node adapter's statement cache hands statements out as if freshly prepared.
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { openDatabase } from '../src/node/database.js';

it('a statement used for array rows answers with objects when used that way next', async () => {
  const { db, sqlite } = openDatabase(':memory:');
  const query = sql`select 1 as one, 2 as two`;
  expect(await db.values(query)).toEqual([[1, 2]]);
  expect(await db.all(query)).toEqual([{ one: 1, two: 2 }]);
  expect(await db.values(query)).toEqual([[1, 2]]);
  expect(await db.get(query)).toEqual({ one: 1, two: 2 });
  await db.run(sql`create table t (x integer)`);
  await db.run(sql`insert into t values (1)`);
  await db.run(sql`insert into t values (1)`); // a cached non-reader statement runs again
  expect(await db.all(sql`select count(*) as n from t`)).toEqual([{ n: 2 }]);
  sqlite.close();
});
