// The one query reports run: rollup rows in a range of 15-minute buckets, filtered, grouped by
// columns (or by the local day of a zone), their measures summed. Only this module knows how the
// rollups store "absent" (text '' and integers -1, so upserts find their row), and turns it back into null.
import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { mmpRollups, rollupEvents } from './schema.js';
import { answeredHere } from './shards.js';

export type RollupTable = 'rollups' | 'rollup_events' | 'mmp_rollups';

export interface RollupQuery {
  table: RollupTable;
  /**
   * Which bucket dates a row: when it arrived, when its install is estimated to have been (Apple's
   * postbacks), when its event happened or its click was made (MMP).
   */
  basis: 'arrival' | 'install' | 'event' | 'click';
  /** Buckets [lo, hi). */
  lo: number;
  hi: number;
  /** The zone's UTC offset in buckets, from each `bucket` on; the first covers `lo`. */
  offsets: ReadonlyArray<{ bucket: number; offset: number }>;
  /** Group by these, in order: a key column, or `day` (the zone's day number, days since 1970). */
  groupBy: readonly string[];
  /** Keep rows whose column holds one of the values (null: absent). */
  filters: ReadonlyArray<{ column: string; values: ReadonlyArray<string | number | null> }>;
  /** Measure columns to sum; totals never overflow (large revenue sums become exact doubles). */
  sums: readonly string[];
  /** Also the least and greatest currency of the group (of its verified rows in `rollups`). */
  currencies?: boolean;
  /** Also the least and greatest campaign name of the group. */
  campaignNames?: boolean;
  /** At most this many groups. */
  limit: number;
}

export type RollupRow = Array<string | number | null>;

/** Key columns that always hold a value: no sentinel to turn back into null. */
const ALWAYS_SET: Record<RollupTable, ReadonlySet<string>> = {
  rollups: new Set(['protocol', 'environment', 'signature', 'window']),
  rollup_events: new Set(['protocol', 'environment', 'signature', 'window', 'event']),
  // A click's row has no event: '' there means absent.
  mmp_rollups: new Set(['mmp_partner_id']),
};
const INTEGER_COLUMNS = new Set(
  [...Object.values(getTableColumns(rollupEvents)), ...Object.values(getTableColumns(mmpRollups))].filter((c) => c.dataType === 'number').map((c) => c.name),
);
const sentinel = (column: string) => (INTEGER_COLUMNS.has(column) ? -1 : '');

const columnSql = (table: RollupTable, column: string) => (ALWAYS_SET[table].has(column) ? `"${column}"` : `nullif("${column}", ${INTEGER_COLUMNS.has(column) ? -1 : "''"})`);

const CURRENCY_RANGE: Record<RollupTable, string[]> = {
  rollups: [`min(case when verified != 0 then nullif(currency, '') end)`, `max(case when verified != 0 then nullif(currency, '') end)`],
  rollup_events: [],
  // Over every row that names a currency: a group of clicks only has none.
  mmp_rollups: [`min(nullif(currency, ''))`, `max(nullif(currency, ''))`],
};

/** A filter value in the stored form (absent → sentinel). */
const stored = (column: string, value: string | number | null) => (value !== null ? value : sentinel(column));

/** The app ids present in a rollup table, one primary-key seek each rather than a scan. */
const distinctApps = (table: string) =>
  `with recursive apps(id) as (select min(app_id) from ${table} union all select (select min(app_id) from ${table} where app_id > apps.id) from apps where apps.id is not null) select id from apps where id is not null`;

/**
 * The zone's day number (days since 1970) of a 15-minute bucket, as SQL: the bucket shifted by the
 * zone's offset in force then, in whole days of 96 buckets.
 */
export function localDay(bucket: string, offsets: ReadonlyArray<{ bucket: number; offset: number }>): string {
  const offset =
    offsets.length === 1
      ? String(offsets[0]!.offset)
      : `case ${offsets
          .slice(1)
          .map((o, i) => `when ${bucket} < ${o.bucket} then ${offsets[i]!.offset}`)
          .join(' ')} else ${offsets.at(-1)!.offset} end`;
  return `(${bucket} + ${offset}) / 96`;
}

/** `column` holds one of `values` (null: is null), as one condition. */
export function anyOf(column: SQL, values: ReadonlyArray<string | number | null>): SQL {
  const present = values.filter((v) => v !== null);
  const alternatives = [
    ...(present.length
      ? [
          sql`${column} in (${sql.join(
            present.map((v) => sql`${v}`),
            sql`, `,
          )})`,
        ]
      : []),
    ...(values.includes(null) ? [sql`${column} is null`] : []),
  ];
  return sql`(${sql.join(alternatives, sql` or `)})`;
}

/**
 * The query on each shard holding the report's apps, merged: a group's sums added, its least and
 * greatest currency and name the least and greatest of the shards', the groups in the order SQLite
 * gives, cut at the limit. Each shard's first `limit` groups include every group of the merged
 * first `limit`, so the merge is exact.
 */
export async function queryRollupsOn(dbs: readonly Db[], q: RollupQuery): Promise<RollupRow[]> {
  if (dbs.length === 1) return queryRollups(dbs[0]!, q);
  const parts = await Promise.all(dbs.map((db) => queryRollups(db, q)));
  const n = q.groupBy.length;
  const sumsEnd = n + q.sums.length;
  const groups = new Map<string, RollupRow>();
  for (const row of parts.flat()) {
    const key = JSON.stringify(row.slice(0, n));
    const into = groups.get(key);
    if (!into) {
      groups.set(key, [...row]);
      continue;
    }
    for (let i = n; i < sumsEnd; i++) into[i] = (into[i] as number) + (row[i] as number);
    // Then (least, greatest) pairs: currencies, names.
    for (let i = sumsEnd; i < row.length; i += 2) {
      into[i] = leastOf(into[i]!, row[i]!);
      into[i + 1] = greatestOf(into[i + 1]!, row[i + 1]!);
    }
  }
  const merged = [...groups.values()];
  if (n) merged.sort((a, b) => compareKeys(a, b, n));
  return merged.slice(0, q.limit);
}

/** SQLite's order: NULL first, then numbers, then text by its bytes (code points). */
export function compareValues(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

const compareKeys = (a: RollupRow, b: RollupRow, n: number) => {
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return 0;
};
// min() and max() skip NULLs.
export const leastOf = (a: string | number | null, b: string | number | null) => (a === null ? b : b === null ? a : compareValues(a, b) <= 0 ? a : b);
export const greatestOf = (a: string | number | null, b: string | number | null) => (a === null ? b : b === null ? a : compareValues(a, b) >= 0 ? a : b);

async function queryRollups(db: Db, q: RollupQuery): Promise<RollupRow[]> {
  const bucket = `${q.basis}_bucket`;
  const where: SQL[] = [sql.raw(`${bucket} >= ${q.lo} and ${bucket} < ${q.hi}`)];
  let apps = sql.raw(distinctApps(q.table));
  for (const { column, values } of q.filters) {
    const listed = sql.join(
      values.map((v) => sql`${stored(column, v)}`),
      sql`, `,
    );
    if (column === 'app_id') apps = sql`select value as id from json_each(json_array(${listed}))`;
    else where.push(sql`${sql.raw(`"${column}"`)} in (${listed})`);
  }
  // The rollup tables are ordered by app, then time, and have no index on time alone (it would
  // cost every write): a query walks its apps (those asked for, else those present), one key range
  // each, leaving out those a move makes this shard not answer for (once per app, not per row).
  where.push(sql`app_id in (select a.id from (${apps}) a where ${answeredHere(sql.raw('a.id'))})`);

  const select = [
    ...q.groupBy.map((g) => (g === 'day' ? localDay(bucket, q.offsets) : columnSql(q.table, g))),
    // total() never fails: sum() raises an error when integers overflow 64 bits.
    ...q.sums.map((m) => `total(${m})`),
    ...(q.currencies ? CURRENCY_RANGE[q.table] : []),
    ...(q.campaignNames ? ['min(campaign_name)', 'max(campaign_name)'] : []),
  ];
  const positions = q.groupBy.map((_, i) => i + 1).join(', ');
  const grouping = q.groupBy.length ? sql.raw(` group by ${positions} order by ${positions}`) : sql.raw('');
  return db.values<RollupRow>(sql`select ${sql.raw(select.join(', '))} from ${sql.raw(q.table)} where ${sql.join(where, sql` and `)}${grouping} limit ${sql.raw(String(q.limit))}`);
}
