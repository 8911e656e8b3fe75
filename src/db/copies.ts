// Copy reconciliation's one query: the verified transactions that arrived in a range, each with how
// its copies came (directly from Apple's devices, relayed by a network, or both), whether a relayed
// copy's unsigned values differ from the direct one, and how long the relay took.
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { anyOf, compareValues, localDay } from './rollup-query.js';
import { answeredHere } from './shards.js';

const BUCKET_MS = 15 * 60 * 1000;

export interface CopyQuery {
  /** Arrival of the first copy, ms: [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** The zone's UTC offset in 15-minute buckets, from each `bucket` on (the first covers fromMs). */
  offsets: ReadonlyArray<{ bucket: number; offset: number }>;
  /** `day` (the zone's day number), `ad_network_id`, `app_id`, `channel`. */
  groupBy: readonly string[];
  filters: ReadonlyArray<{ column: string; values: ReadonlyArray<string | number | null> }>;
  limit: number;
}

/** Per group: keys, then transactions, direct, relayed, both, direct_only, relayed_only, value_mismatch, p50 and p95 delay (s). */
export type CopyRow = Array<string | number | null>;

/** On each shard holding the report's apps; merged when there are several. */
export async function copyGroups(dbs: readonly Db[], q: CopyQuery): Promise<CopyRow[]> {
  const byChannel = q.groupBy.includes('channel');
  const filterOf: Record<string, string> = { ad_network_id: 't.ad_network_id', app_id: 't.app_id' };
  const where: SQL[] = [
    sql`t.received_at >= ${q.fromMs} and t.received_at < ${q.toMs}`,
    sql.raw(`t.outcome = 'stored' and t.signature = 'verified' and t.environment = 'production'`),
    answeredHere(sql.raw('t.app_id')),
  ];
  const channelFilter: SQL[] = [];
  for (const { column, values } of q.filters) {
    (column === 'channel' ? channelFilter : where).push(anyOf(sql.raw(column === 'channel' ? 'ch.channel' : filterOf[column]!), values));
  }
  const channelWhere = channelFilter.length ? sql.join(channelFilter, sql` and `) : sql`1`;
  // Every copy of each transaction: the row that holds it, its conflicting copies (rows of their
  // own, with their values), and later copies with its values (postback_copies).
  const prefix = sql`with t as (
      select t.id, t.received_at, t.app_id, t.ad_network_id, t.channel, t.conversion_value, t.coarse_conversion_value, t.country_code,
        ${sql.raw(localDay(`t.received_at / ${BUCKET_MS}`, q.offsets))} as day
      from postbacks t where ${sql.join(where, sql` and `)}
    ),
    c as (
      select t.id as tx, t.channel, t.received_at as at, t.conversion_value as cv, t.coarse_conversion_value as cc, t.country_code as co from t
      union all
      select t.id, k.channel, k.received_at, k.conversion_value, k.coarse_conversion_value, k.country_code from t join postbacks k on k.first_id = t.id
      union all
      select t.id, x.channel, x.received_at, t.conversion_value, t.coarse_conversion_value, t.country_code from t join postback_copies x on x.postback_id = t.id
    ),
    p as (
      select t.id as tx, t.day, t.app_id, t.ad_network_id,
        min(case when c.channel = 'direct' then c.at end) as direct_at,
        min(case when c.channel != 'direct' then c.at end) as relay_at,
        count(distinct coalesce(c.cv, '') || '|' || coalesce(c.cc, '') || '|' || coalesce(c.co, '')) > 1 as differs
      from t join c on c.tx = t.id group by t.id
    ),
    ch as (select tx, channel, min(at) as at from c group by tx, channel),
    ${
      byChannel
        ? sql`r as (select p.*, ch.channel, case when ch.channel = 'direct' then p.relay_at else ch.at end as relayed_at from p join ch on ch.tx = p.tx where ${channelWhere})`
        : // Filtered by channel but not grouped by it: the transactions with a copy through one of them, once each.
          sql`r as (select p.*, p.relay_at as relayed_at from p where ${channelFilter.length ? sql`exists (select 1 from ch where ch.tx = p.tx and ${channelWhere})` : sql`1`})`
    }`;
  const keys = q.groupBy;
  const keyList = keys.join(', ');
  const positions = keys.map((_, i) => i + 1).join(', ');
  const grouped = keys.length ? ` group by ${positions} order by ${positions}` : '';
  const both = 'direct_at is not null and relay_at is not null';
  const counts = sql`${prefix}
    select ${sql.raw(
      [
        ...keys,
        'count(*)',
        'total(direct_at is not null)',
        'total(relay_at is not null)',
        `total(${both})`,
        'total(direct_at is not null and relay_at is null)',
        'total(direct_at is null and relay_at is not null)',
        `total(${both} and differs)`,
      ].join(', '),
    )} from r${sql.raw(grouped)} limit ${sql.raw(String(q.limit))}`;
  const d = sql`${prefix},
    d as (select ${sql.raw(keys.length ? `${keyList}, ` : '')}(relayed_at - direct_at) / 1000.0 as delay from r where direct_at is not null and relayed_at is not null)`;
  // Nearest-rank percentiles of the relay delay, per group (window functions: SQLite 3.25+, D1).
  const partition = keys.length ? `partition by ${keyList}` : '';
  const percentiles = sql`${d},
    ranked as (select *, row_number() over (${sql.raw(partition)} order by delay) as rn, count(*) over (${sql.raw(partition)}) as n from d)
    select ${sql.raw([...keys, 'max(case when rn = (n + 1) / 2 then delay end)', 'max(case when rn = (95 * n + 99) / 100 then delay end)'].join(', '))}
    from ranked${sql.raw(keys.length ? ` group by ${positions}` : '')}`;
  const n = keys.length;
  const keyOf = (row: CopyRow) => JSON.stringify(row.slice(0, n));
  if (dbs.length === 1) {
    const [db] = dbs;
    const delayByKey = new Map((await db!.values<CopyRow>(percentiles)).map((row) => [keyOf(row), row.slice(n)]));
    return (await db!.values<CopyRow>(counts)).map((row) => [...row, ...(delayByKey.get(keyOf(row)) ?? [null, null])]);
  }
  // Across shards a group's transactions may be on several: counts add up, and its percentiles come
  // from every delay of the group (each shard's, counted per value).
  const merged = new Map<string, CopyRow>();
  const delays = new Map<string, Array<[number, number]>>();
  for (const db of dbs) {
    for (const row of await db.values<CopyRow>(counts)) {
      const into = merged.get(keyOf(row));
      if (!into) merged.set(keyOf(row), [...row]);
      else for (let i = n; i < row.length; i++) into[i] = (into[i] as number) + (row[i] as number);
    }
    const histogram = sql`${d} select ${sql.raw([...keys, 'delay', 'count(*)'].join(', '))} from d group by ${sql.raw([...keys.map((_, i) => i + 1), n + 1].join(', '))}`;
    for (const row of await db.values<CopyRow>(histogram)) {
      const list = delays.get(keyOf(row)) ?? [];
      list.push([row[n] as number, row[n + 1] as number]);
      delays.set(keyOf(row), list);
    }
  }
  const rows = [...merged.values()].sort((a, b) => {
    for (let i = 0; i < n; i++) {
      const c = compareValues(a[i]!, b[i]!);
      if (c !== 0) return c;
    }
    return 0;
  });
  return rows.slice(0, q.limit).map((row) => {
    const values = (delays.get(keyOf(row)) ?? []).sort((a, b) => a[0] - b[0]);
    const total = values.reduce((sum, [, count]) => sum + count, 0);
    return [...row, nearestRank(values, Math.floor((total + 1) / 2)), nearestRank(values, Math.floor((95 * total + 99) / 100))];
  });
}

/** The value at 1-based `rank` of a sorted (value, count) list, null when empty. */
function nearestRank(values: ReadonlyArray<[number, number]>, rank: number): number | null {
  let seen = 0;
  for (const [value, count] of values) {
    seen += count;
    if (seen >= rank) return value;
  }
  return null;
}
