// Figures reported elsewhere: stored as uploaded (a re-upload of a row's key replaces it), listed,
// deleted by source and days, and summed for the discrepancy report.
import { and, asc, gt, gte, inArray, lte, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './db.js';
import { columnValues } from './guarded.js';
import { anyOf, compareValues, greatestOf, leastOf } from './rollup-query.js';
import { campaigns, type ReportedFigureRow, reportedFigures } from './schema.js';
import { answeredHere } from './shards.js';

export type NewReportedFigure = Omit<ReportedFigureRow, 'id' | 'uploadedAt'>;

/** Rows per statement, as one JSON parameter: at most ~900 bytes each, under D1's 2 MB limit on a value. */
const ROWS_PER_STATEMENT = 1000;
const FIELDS = ['source', 'date', 'tz', 'appId', 'adNetworkId', 'campaign', 'networkCampaignId', 'metric', 'event', 'value', 'currency'] as const;
const fromJson = Object.fromEntries(FIELDS.map((name, i) => [name, sql.raw(`json_extract(j.value, '$[${i}]')`)]));
const KEY = [
  reportedFigures.source,
  reportedFigures.date,
  reportedFigures.tz,
  reportedFigures.appId,
  reportedFigures.adNetworkId,
  reportedFigures.campaign,
  reportedFigures.networkCampaignId,
  reportedFigures.metric,
  reportedFigures.event,
];

/** The upsert of every row, a few statements for one atomic batch; a later row of one key wins. */
export function reportedStatements(db: Db, rows: readonly NewReportedFigure[], now: Date): Array<BatchItem<'sqlite'>> {
  const statements: Array<BatchItem<'sqlite'>> = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT).map((r) => FIELDS.map((f) => r[f])));
    statements.push(
      db
        .insert(reportedFigures)
        // Ordered by position, so that of two rows with one key in a chunk the later one stays.
        .select(sql`select ${columnValues(reportedFigures, { ...fromJson, uploadedAt: now })} from json_each(${json}) j where true order by j.key`)
        .onConflictDoUpdate({
          target: KEY,
          set: { value: sql`excluded.value`, currency: sql`excluded.currency`, uploadedAt: sql`excluded.uploaded_at` },
        }),
    );
  }
  return statements;
}

export interface ReportedFilter {
  sources?: string[] | undefined;
  appIds?: number[] | undefined;
  adNetworkIds?: string[] | undefined;
  metrics?: Array<ReportedFigureRow['metric']> | undefined;
  /** Days as uploaded, inclusive. */
  from?: string | undefined;
  to?: string | undefined;
}

function conditions(filter: ReportedFilter): SQL[] {
  const where: SQL[] = [];
  if (filter.sources) where.push(inArray(reportedFigures.source, filter.sources));
  if (filter.appIds) where.push(inArray(reportedFigures.appId, filter.appIds));
  if (filter.adNetworkIds) where.push(inArray(reportedFigures.adNetworkId, filter.adNetworkIds));
  if (filter.metrics) where.push(inArray(reportedFigures.metric, filter.metrics));
  if (filter.from) where.push(gte(reportedFigures.date, filter.from));
  if (filter.to) where.push(lte(reportedFigures.date, filter.to));
  return where;
}

export const listReported = (db: Db, filter: ReportedFilter, afterId: number, limit: number): Promise<ReportedFigureRow[]> =>
  db
    .select()
    .from(reportedFigures)
    .where(and(gt(reportedFigures.id, afterId), answeredHere(reportedFigures.appId), ...conditions(filter)))
    .orderBy(asc(reportedFigures.id))
    .limit(limit);

/** Deletes the rows the filter names; resolves with how many went. */
export async function deleteReported(db: Db, filter: ReportedFilter): Promise<number> {
  return (
    await db
      .delete(reportedFigures)
      .where(and(...conditions(filter)))
      .returning({ id: reportedFigures.id })
  ).length;
}

/** The reported side of the discrepancy report. */
export interface ReportedQuery {
  tz: string;
  from: string;
  to: string;
  metric: ReportedFigureRow['metric'];
  /** Events and revenue of this event only; revenue without one means the rows of no event (totals). */
  event: string | undefined;
  /** `date`, `app_id`, `ad_network_id`, `campaign`, `network_campaign_id`. */
  groupBy: readonly string[];
  filters: ReadonlyArray<{ column: string; values: ReadonlyArray<string | number | null> }>;
  /** The campaign-name mappings (kept in `DB`, so handed over rather than joined: a shard has none). */
  campaigns: readonly CampaignMapping[];
}

/** What resolves an uploaded row's campaign from its network campaign id, or the other way. */
export type CampaignMapping = Pick<typeof campaigns.$inferSelect, 'id' | 'appId' | 'adNetworkId' | 'sourceIdentifier' | 'networkCampaignId'>;

export const campaignMappings = (db: Db): Promise<CampaignMapping[]> =>
  db
    .select({
      id: campaigns.id,
      appId: campaigns.appId,
      adNetworkId: campaigns.adNetworkId,
      sourceIdentifier: campaigns.sourceIdentifier,
      networkCampaignId: campaigns.networkCampaignId,
    })
    .from(campaigns);

/** Per source and group: the summed value and the least and greatest currency. */
export type ReportedGroup = { source: string; keys: Array<string | number | null>; value: number; currencyMin: string | null; currencyMax: string | null };

/**
 * An upload names a campaign one way; the other comes from the campaign-name mappings (the latest
 * of the network and app), as MMP postbacks get their SKAN campaign from their link's.
 */
const resolved = (where: SQL, mappings: readonly CampaignMapping[]) => sql`with m as (
    select value ->> 0 as id, value ->> 1 as app_id, value ->> 2 as ad_network_id, value ->> 3 as source_identifier, value ->> 4 as network_campaign_id
    from json_each(${JSON.stringify(mappings.map((c) => [c.id, c.appId, c.adNetworkId, c.sourceIdentifier, c.networkCampaignId]))})
  )
  select r.*,
  case when r.campaign != '' then r.campaign else (select substr(m.source_identifier, -2) from m
    where m.network_campaign_id = r.network_campaign_id and m.app_id = r.app_id and m.ad_network_id = r.ad_network_id order by m.id desc limit 1) end as campaign_of,
  case when r.network_campaign_id != '' then r.network_campaign_id else (select m.network_campaign_id from m
    where substr(m.source_identifier, -2) = r.campaign and m.app_id = r.app_id and m.ad_network_id = r.ad_network_id and m.network_campaign_id is not null
    order by m.id desc limit 1) end as network_campaign_of
  from ${reportedFigures} r where ${where}`;
const COLUMN: Record<string, string> = { date: 'date', app_id: 'app_id', ad_network_id: 'ad_network_id', campaign: 'campaign_of', network_campaign_id: 'network_campaign_of' };

/**
 * On each shard holding the report's apps, merged: a group's values added, its currencies the least
 * and greatest, the groups in SQLite's order.
 */
export async function reportedGroups(dbs: readonly Db[], q: ReportedQuery): Promise<{ groups: ReportedGroup[]; skipped: number }> {
  const parts = await Promise.all(dbs.map((db) => shardGroups(db, q)));
  if (parts.length === 1) return parts[0]!;
  const merged = new Map<string, ReportedGroup>();
  for (const group of parts.flatMap((p) => p.groups)) {
    const key = JSON.stringify([group.source, ...group.keys]);
    const into = merged.get(key);
    if (!into) merged.set(key, { ...group });
    else {
      into.value += group.value;
      into.currencyMin = leastOf(into.currencyMin, group.currencyMin) as string | null;
      into.currencyMax = greatestOf(into.currencyMax, group.currencyMax) as string | null;
    }
  }
  const groups = [...merged.values()].sort((a, b) => {
    for (const [x, y] of [[a.source, b.source] as const, ...a.keys.map((k, i) => [k, b.keys[i]!] as const)]) {
      const c = compareValues(x, y);
      if (c !== 0) return c;
    }
    return 0;
  });
  return { groups, skipped: parts.reduce((total, p) => total + p.skipped, 0) };
}

async function shardGroups(db: Db, q: ReportedQuery): Promise<{ groups: ReportedGroup[]; skipped: number }> {
  const base = (tz: SQL): SQL => {
    const w = [tz, answeredHere(sql.raw('r.app_id')), sql`r.metric = ${q.metric}`, sql`r.date >= ${q.from}`, sql`r.date <= ${q.to}`, ...inner];
    if (q.event !== undefined) w.push(sql`r.event = ${q.event}`);
    else if (q.metric === 'revenue') w.push(sql`r.event = ''`);
    return sql.join(w, sql` and `);
  };
  // Filters on stored columns go inside, where the index (app, zone, day) finds the rows; filters on
  // the campaign as resolved apply to the resolved rows.
  const inner: SQL[] = [];
  const filters: SQL[] = [sql`1`];
  for (const { column, values } of q.filters) {
    const raw = column === 'app_id' || column === 'ad_network_id';
    (raw ? inner : filters).push(anyOf(sql.raw(raw ? `r.${column}` : COLUMN[column]!), values));
  }
  const filtered = sql.join(filters, sql` and `);
  const keys = q.groupBy.map((g) => sql.raw(COLUMN[g]!));
  const select = sql.join([sql`source`, ...keys, sql`total(value)`, sql`min(nullif(currency, ''))`, sql`max(nullif(currency, ''))`], sql`, `);
  const grouping = sql.raw(Array.from({ length: keys.length + 1 }, (_, i) => i + 1).join(', '));
  const rows = await db.values<Array<string | number | null>>(
    sql`select ${select} from (${resolved(base(sql`r.tz = ${q.tz}`), q.campaigns)}) where ${filtered} group by ${grouping} order by ${grouping}`,
  );
  const [skipped] = await db.values<[number]>(sql`select count(*) from (${resolved(base(sql`r.tz != ${q.tz}`), q.campaigns)}) where ${filtered}`);
  const n = keys.length;
  return {
    groups: rows.map((r) => ({
      source: r[0] as string,
      keys: r.slice(1, n + 1),
      value: r[n + 1] as number,
      currencyMin: r[n + 2] as string | null,
      currencyMax: r[n + 3] as string | null,
    })),
    skipped: skipped?.[0] ?? 0,
  };
}
