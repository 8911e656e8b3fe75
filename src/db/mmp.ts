// The MMP side's rows: tracking links, MMP partners, the click log, MMP postbacks, their aggregates,
// and the secret that signs click IDs. Writes that must be atomic run through a Unit.
import { and, asc, eq, gt, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './db.js';
import { columnValues } from './guarded.js';
import { prepared } from './prepared.js';
import {
  type ClickRow,
  campaigns,
  clicks,
  deliveries,
  type LinkRow,
  links,
  MMP_ROLLUP_KEY,
  MMP_ROLLUP_MEASURES,
  type MmpPartnerRow,
  type MmpPostbackRow,
  type MmpRollupKey,
  mmpPartners,
  mmpPostbacks,
  mmpRollups,
  serverSecrets,
  writeMarks,
} from './schema.js';
import { bumpSettings } from './settings-snapshot.js';
import { answeredHere } from './shards.js';
import type { Unit } from './store.js';

// --- links and partners (settings: every change moves the settings revision)

export type LinkColumns = Omit<LinkRow, 'id' | 'createdAt' | 'updatedAt'>;
export type PartnerColumns = Omit<MmpPartnerRow, 'id' | 'createdAt' | 'updatedAt'>;

export async function insertLink(tx: Unit, columns: LinkColumns, now: Date): Promise<LinkRow> {
  const [inserted] = await tx.batch([
    tx.db
      .insert(links)
      .values({ ...columns, createdAt: now, updatedAt: now })
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (inserted as LinkRow[])[0]!;
}

export async function replaceLink(tx: Unit, id: number, columns: LinkColumns, now: Date): Promise<LinkRow | undefined> {
  const [updated] = await tx.batch([
    tx.db
      .update(links)
      .set({ ...columns, updatedAt: now })
      .where(eq(links.id, id))
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (updated as LinkRow[])[0];
}

export async function deleteLink(tx: Unit, id: number): Promise<boolean> {
  const [deleted] = await tx.batch([tx.db.delete(links).where(eq(links.id, id)).returning({ id: links.id }), bumpSettings(tx.db)]);
  return (deleted as unknown[]).length > 0;
}

export const listLinks = (db: Db) => db.select().from(links).orderBy(asc(links.id));

export async function getLink(db: Db, id: number): Promise<LinkRow | undefined> {
  const [row] = await db.select().from(links).where(eq(links.id, id));
  return row;
}

export async function insertPartner(tx: Unit, columns: PartnerColumns, now: Date): Promise<MmpPartnerRow> {
  const [inserted] = await tx.batch([
    tx.db
      .insert(mmpPartners)
      .values({ ...columns, createdAt: now, updatedAt: now })
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (inserted as MmpPartnerRow[])[0]!;
}

export async function updatePartner(tx: Unit, id: number, set: Partial<PartnerColumns>, now: Date): Promise<MmpPartnerRow | undefined> {
  const [updated] = await tx.batch([
    tx.db
      .update(mmpPartners)
      .set({ ...set, updatedAt: now })
      .where(eq(mmpPartners.id, id))
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (updated as MmpPartnerRow[])[0];
}

export async function deletePartner(tx: Unit, id: number): Promise<boolean> {
  const [deleted] = await tx.batch([tx.db.delete(mmpPartners).where(eq(mmpPartners.id, id)).returning({ id: mmpPartners.id }), bumpSettings(tx.db)]);
  return (deleted as unknown[]).length > 0;
}

export const listPartners = (db: Db) => db.select().from(mmpPartners).orderBy(asc(mmpPartners.id));

export async function getPartner(db: Db, id: number): Promise<MmpPartnerRow | undefined> {
  const [row] = await db.select().from(mmpPartners).where(eq(mmpPartners.id, id));
  return row;
}

export const linksUsingPartner = async (db: Db, partnerId: number) => (await db.select({ id: links.id }).from(links).where(eq(links.mmpPartnerId, partnerId))).map((r) => r.id);

// --- the click-ID secret

/** The secret named `name`, created from `fresh` the first time (by whichever process gets there first). */
export async function serverSecret(tx: Unit, name: string, fresh: () => string, now: Date): Promise<string> {
  const [, rows] = await tx.batch([
    tx.db.insert(serverSecrets).values({ name, value: fresh(), createdAt: now }).onConflictDoNothing(),
    tx.db.select({ value: serverSecrets.value }).from(serverSecrets).where(eq(serverSecrets.name, name)),
  ]);
  return (rows as Array<{ value: string }>)[0]!.value;
}

// --- clicks

export type NewClick = Omit<ClickRow, 'id'>;

const BUCKET = 900_000;

/** Clicks per insert statement: one JSON parameter each, well under D1's limit on a value's size. */
const CLICKS_PER_STATEMENT = 2000;

/** A click as one JSON array; `json_extract` takes each column back by its position. */
const clickTuple = (c: NewClick) => [
  c.clickId,
  c.linkId,
  c.appId,
  c.touch,
  c.clickedAt.getTime(),
  c.expiresAt.getTime(),
  c.imported ? 1 : 0,
  c.sub1,
  c.sub2,
  c.sub3,
  c.sub4,
  c.sub5,
];
const CLICK_FIELDS = ['clickId', 'linkId', 'appId', 'touch', 'clickedAt', 'expiresAt', 'imported', 'sub1', 'sub2', 'sub3', 'sub4', 'sub5'] as const;
const fromJson = Object.fromEntries(CLICK_FIELDS.map((name, i) => [name, sql.raw(`json_extract(j.value, '$[${i}]')`)]));

/**
 * Stores clicks and, for those that were new, their counts and their impression pings, in one unit.
 * The rows go in as one JSON parameter per few thousand (`json_each`), so ten thousand clicks are a
 * handful of statements on D1 too. The counts come from the rows themselves, in SQL: a batch notes
 * the newest click id first, and every row above it afterwards is one this batch inserted (a batch
 * is one transaction), so a click sent twice is stored and counted once, with no per-click round
 * trip. The statement before last counts the clicks that were new. Every statement is a lazy
 * query, so a driver runs them in the batch's order.
 */
/**
 * What a click's counts need of its link: the link as the settings hold it and its SKAN campaign
 * (links and campaign names live in `DB`, so they come with the clicks: a shard has neither).
 */
export type ClickLink = Pick<LinkRow, 'id' | 'adNetworkId' | 'networkCampaignId' | 'mmpPartnerId' | 'impressionUrl'> & { campaign: string };

export function clickStatements(db: Db, rows: readonly NewClick[], now: Date, clickLinks: readonly ClickLink[]): Array<BatchItem<'sqlite'>> {
  if (rows.length === 0) return [];
  const token = crypto.randomUUID();
  const floor = sql`(select ${writeMarks.floor} from ${writeMarks} where ${eq(writeMarks.token, token)})`;
  const mine = sql`c.id > ${floor}`;
  const inserts = [];
  for (let i = 0; i < rows.length; i += CLICKS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + CLICKS_PER_STATEMENT).map(clickTuple));
    inserts.push(
      db
        .insert(clicks)
        .select(sql`select ${columnValues(clicks, fromJson)} from json_each(${json}) j where true`)
        .onConflictDoNothing(),
    );
  }
  const bucket = sql.raw(`c.clicked_at / ${BUCKET}`);
  const key: Record<keyof MmpRollupKey, SQL> = {
    appId: sql`c.app_id`,
    arrivalBucket: bucket,
    eventBucket: bucket,
    clickBucket: bucket,
    adNetworkId: sql`l.ad_network_id`,
    linkId: sql`c.link_id`,
    networkCampaignId: sql`l.network_campaign_id`,
    campaign: sql`l.campaign`,
    mmpPartnerId: sql`l.mmp_partner_id`,
    event: sql`''`,
    touchType: sql`c.touch`,
    countryCode: sql`''`,
    sub1: sql`coalesce(c.sub1, '')`,
    currency: sql`''`,
  };
  const measures = Object.fromEntries(MMP_ROLLUP_MEASURES.map((m) => [m, sql`0`]));
  const counted = columnValues(mmpRollups, { ...key, ...measures, clicks: sql`sum(c.touch = 'click')`, impressions: sql`sum(c.touch = 'impression')` });
  const linked = JSON.stringify(clickLinks.map((l) => [l.id, l.adNetworkId, l.networkCampaignId, l.mmpPartnerId, l.impressionUrl, l.campaign]));
  const joined = sql`from ${clicks} c join (select value ->> 0 as id, value ->> 1 as ad_network_id, value ->> 2 as network_campaign_id, value ->> 3 as mmp_partner_id,
      value ->> 4 as impression_url, value ->> 5 as campaign from json_each(${linked})) l on l.id = c.link_id where ${mine}`;
  return [
    db.insert(writeMarks).select(sql`select ${token}, (select coalesce(max(${clicks.id}), 0) from ${clicks}), null where true`),
    ...inserts,
    db
      .insert(mmpRollups)
      .select(sql`select ${counted} ${joined} group by ${sql.raw(MMP_ROLLUP_KEY.map((_, i) => i + 1).join(', '))}`)
      .onConflictDoUpdate({
        target: mmpRollupConflict.target,
        set: { clicks: sql`${mmpRollups.clicks} + excluded.clicks`, impressions: sql`${mmpRollups.impressions} + excluded.impressions` },
      }),
    db
      .insert(deliveries)
      .select(
        sql`select ${columnValues(deliveries, { clickRowId: sql`c.id`, state: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now })} ${joined} and c.touch = 'impression' and l.impression_url is not null`,
      )
      .onConflictDoNothing(),
    db.select({ stored: sql<number>`count(*)` }).from(sql`${clicks} c`).where(mine),
    db.delete(writeMarks).where(eq(writeMarks.token, token)),
  ];
}

/** How many clicks a `clickStatements` batch stored (the rest were there already). */
export const storedClicks = (results: readonly unknown[]) => (results.at(-2) as Array<{ stored: number }>)[0]!.stored;

/** A link as a click needs it: with the name of the SKAN campaign its network campaign id maps to. */
const linkForClick = (db: Db) =>
  db
    .select({
      link: links,
      campaignName: sql<
        string | null
      >`(select m.name from ${campaigns} m where m.network_campaign_id = ${links.networkCampaignId} and m.app_id = ${links.appId} and m.ad_network_id = ${links.adNetworkId} order by m.id desc limit 1)`,
    })
    .from(links)
    .where(eq(links.id, sql.placeholder('id')))
    .prepare();

export const findLinkForClick = async (db: Db, id: number): Promise<{ link: LinkRow; campaignName: string | null } | undefined> =>
  await prepared(db, 'linkForClick', linkForClick).get({ id });

const clickById = (db: Db) =>
  db
    .select()
    .from(clicks)
    .where(eq(clicks.clickId, sql.placeholder('clickId')))
    .prepare();

export const findClick = async (db: Db, clickId: string): Promise<ClickRow | undefined> => await prepared(db, 'clickById', clickById).get({ clickId });

export async function clickByRowId(db: Db, id: number): Promise<ClickRow | undefined> {
  const [row] = await db.select().from(clicks).where(eq(clicks.id, id));
  return row;
}

/** Removes clicks past their lookback plus 30 days, in chunks; resolves with how many went. */
export async function pruneClicks(tx: Unit, now: Date, chunk = 500): Promise<number> {
  const doomed = tx.db.select({ id: clicks.id }).from(clicks).where(lt(clicks.expiresAt, now)).orderBy(asc(clicks.id)).limit(chunk);
  const [, gone] = await tx.batch([
    tx.db.delete(deliveries).where(inArray(deliveries.clickRowId, doomed)),
    tx.db.delete(clicks).where(inArray(clicks.id, doomed)).returning({ id: clicks.id }),
  ]);
  return (gone as unknown[]).length;
}

// --- MMP postbacks

const byDedupeKey = (db: Db) =>
  db
    .select({ id: mmpPostbacks.id })
    .from(mmpPostbacks)
    .where(eq(mmpPostbacks.dedupeKey, sql.placeholder('key')))
    .prepare();

export const findMmpByDedupeKey = async (db: Db, key: string): Promise<{ id: number } | undefined> => await prepared(db, 'mmpByDedupeKey', byDedupeKey).get({ key });

/** Whether the partner's postbacks hold an accepted install for this click (an event of it is then accepted, whatever its age). */
export async function acceptedInstall(db: Db, partnerId: number, clickId: string): Promise<MmpPostbackRow | undefined> {
  const [row] = await db
    .select()
    .from(mmpPostbacks)
    .where(and(eq(mmpPostbacks.partnerId, partnerId), eq(mmpPostbacks.clickId, clickId), eq(mmpPostbacks.eventName, 'install'), eq(mmpPostbacks.outcome, 'accepted')))
    .orderBy(asc(mmpPostbacks.id))
    .limit(1);
  return row;
}

export const mmpPostbackById = async (db: Db, id: number): Promise<MmpPostbackRow | undefined> => (await db.select().from(mmpPostbacks).where(eq(mmpPostbacks.id, id)))[0];

export interface MmpPostbackFilter {
  appIds?: number[] | undefined;
  adNetworkIds?: string[] | undefined;
  partnerIds?: number[] | undefined;
  outcomes?: Array<MmpPostbackRow['outcome']> | undefined;
  eventNames?: string[] | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

function mmpConditions(filter: MmpPostbackFilter): SQL[] {
  const where: SQL[] = [answeredHere(mmpPostbacks.appId)];
  if (filter.appIds) where.push(inArray(mmpPostbacks.appId, filter.appIds));
  if (filter.adNetworkIds) where.push(inArray(mmpPostbacks.adNetworkId, filter.adNetworkIds));
  if (filter.partnerIds) where.push(inArray(mmpPostbacks.partnerId, filter.partnerIds));
  if (filter.outcomes) where.push(inArray(mmpPostbacks.outcome, filter.outcomes));
  if (filter.eventNames) where.push(inArray(mmpPostbacks.eventName, filter.eventNames));
  if (filter.since) where.push(gte(mmpPostbacks.receivedAt, filter.since));
  if (filter.until) where.push(lt(mmpPostbacks.receivedAt, filter.until));
  return where;
}

export function listMmpPostbacks(db: Db, filter: MmpPostbackFilter, afterId: number, limit: number): Promise<MmpPostbackRow[]> {
  return db
    .select()
    .from(mmpPostbacks)
    .where(and(gt(mmpPostbacks.id, afterId), ...mmpConditions(filter)))
    .orderBy(asc(mmpPostbacks.id))
    .limit(limit);
}

export async function getMmpPostback(db: Db, id: number, filter: MmpPostbackFilter): Promise<MmpPostbackRow | undefined> {
  const [row] = await db
    .select()
    .from(mmpPostbacks)
    .where(and(eq(mmpPostbacks.id, id), ...mmpConditions(filter)));
  return row;
}

// --- MMP aggregates

/** `column + excluded.column` for every measure. */
export const mmpRollupConflict = {
  target: MMP_ROLLUP_KEY.map((k) => mmpRollups[k]),
  set: Object.fromEntries(MMP_ROLLUP_MEASURES.map((m) => [m, sql`${mmpRollups[m]} + excluded.${sql.identifier(mmpRollups[m].name)}`])),
};

const placeholders = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, sql.placeholder(n)])) as never;

export const upsertMmpRollup = (db: Db) =>
  db
    .insert(mmpRollups)
    .values(placeholders([...MMP_ROLLUP_KEY, ...MMP_ROLLUP_MEASURES]))
    .onConflictDoUpdate(mmpRollupConflict as never);
