// The one drizzle schema for both drivers (better-sqlite3 on Node, D1 on Workers).
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, type SQLiteColumn, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { ConversionSchema } from '../model/conversion-schema.js';
import type { Decode } from '../model/decode.js';
import type { DestinationFilters, RetryPolicy } from '../model/destination.js';

/**
 * Every postback body skanpost kept, byte for byte, with its verdict and the fields derived from
 * it. A verified (or development) copy that is the first of its dedupe key claims the key
 * (`dedupe_key` set); conflicting verified copies are kept too but point at that first row.
 */
export const postbacks = sqliteTable(
  'postbacks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
    protocol: text('protocol', { enum: ['skan', 'aak'] }).notNull(),
    environment: text('environment', { enum: ['production', 'development'] }).notNull(),
    version: text('version'),
    signature: text('signature', { enum: ['verified', 'invalid', 'unverifiable', 'development'] }).notNull(),
    reasons: text('reasons', { mode: 'json' }).$type<string[]>().notNull(),
    keyId: text('key_id'),
    /** `stored`: counted on its own; `conflict` / `duplicate`: a verified copy of `first_id`. */
    outcome: text('outcome', { enum: ['stored', 'conflict', 'duplicate'] }).notNull(),
    firstId: integer('first_id'),
    /** protocol|environment|network|lower-case id|window; set only on the row that claims it. */
    dedupeKey: text('dedupe_key').unique(),
    bodySha256: text('body_sha256').notNull().unique(),
    body: text('body').notNull(),

    adNetworkId: text('ad_network_id'),
    transactionId: text('transaction_id'),
    postbackSequenceIndex: integer('postback_sequence_index'),
    campaignId: integer('campaign_id'),
    sourceIdentifier: text('source_identifier'),
    appId: integer('app_id'),
    sourceAppId: integer('source_app_id'),
    sourceDomain: text('source_domain'),
    redownload: integer('redownload', { mode: 'boolean' }),
    fidelityType: integer('fidelity_type'),
    didWin: integer('did_win', { mode: 'boolean' }),
    conversionValue: integer('conversion_value'),
    coarseConversionValue: text('coarse_conversion_value', { enum: ['low', 'medium', 'high'] }),
    countryCode: text('country_code'),
    adInteractionType: text('ad_interaction_type', { enum: ['view', 'click'] }),
    conversionType: text('conversion_type', { enum: ['download', 'redownload', 're-engagement'] }),
    impressionType: text('impression_type'),
    marketplaceIdentifier: text('marketplace_identifier'),
    kid: text('kid'),

    // Derived from the fields above and the app's settings; `rebuild` and re-decode rewrite them.
    campaign: text('campaign'),
    installedAt: integer('installed_at', { mode: 'timestamp_ms' }),
    decode: text('decode', { mode: 'json' }).$type<Decode>(),
    campaignName: text('campaign_name'),
    networkCampaignId: text('network_campaign_id'),
    /** How this copy arrived: `direct` (from Apple's device) or `relay:<relay key name>` (docs/discrepancies.md). */
    channel: text('channel').notNull().default('direct'),
  },
  (t) => [
    index('postbacks_received_at').on(t.receivedAt),
    index('postbacks_app').on(t.appId, t.id),
    // `reverify` walks only the rows that may change.
    index('postbacks_unsettled').on(t.id).where(sql`${t.signature} in ('invalid', 'unverifiable')`),
    // Listings filtered or scoped by network, in id order. (It was (network, transaction id): no
    // query looks a transaction up by its id, and the 36-character key cost every insert.)
    index('postbacks_network').on(t.adNetworkId, t.id),
    // Copy reconciliation finds a transaction's conflicting copies; only those rows are indexed.
    index('postbacks_first').on(t.firstId).where(sql`${t.firstId} is not null`),
  ],
);

export type PostbackRow = typeof postbacks.$inferSelect;
export type NewPostbackRow = typeof postbacks.$inferInsert;

/** Conversion-value schema versions per app; the one in force at a postback's install time decodes it. */
export const conversionSchemas = sqliteTable(
  'conversion_schemas',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    appId: integer('app_id').notNull(),
    version: integer('version').notNull(),
    effectiveFrom: integer('effective_from', { mode: 'timestamp_ms' }).notNull(),
    definition: text('definition', { mode: 'json' }).$type<ConversionSchema>().notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('conversion_schemas_app_version').on(t.appId, t.version)],
);

/** Campaign names per ad network and app: a source identifier (2–4 digits) → name, over a period. */
export const campaigns = sqliteTable(
  'campaigns',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    adNetworkId: text('ad_network_id').notNull(),
    appId: integer('app_id').notNull(),
    sourceIdentifier: text('source_identifier').notNull(),
    name: text('name').notNull(),
    networkCampaignId: text('network_campaign_id'),
    effectiveFrom: integer('effective_from', { mode: 'timestamp_ms' }),
    effectiveTo: integer('effective_to', { mode: 'timestamp_ms' }),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('campaigns_lookup').on(t.adNetworkId, t.appId)],
);

/**
 * Background work that must survive a restart: re-deriving an app's postbacks after a schema or
 * campaign change, or rebuilding every aggregate. `cursor` is the last postback id done.
 */
export const maintenanceJobs = sqliteTable('maintenance_jobs', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  kind: text('kind', { enum: ['rederive', 'rebuild'] }).notNull(),
  appId: integer('app_id'),
  cursor: integer('cursor').notNull().default(0),
  /** Rebuild: the last id present when it started; later rows were counted by ingest itself. */
  untilId: integer('until_id'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  doneAt: integer('done_at', { mode: 'timestamp_ms' }),
  /**
   * Sharded Workers: the job in `DB` this shard's copy runs (a settings change queues its re-derive
   * in `DB`, atomically with the change; the cron hands it to the app's shard once).
   */
  originJobId: integer('origin_job_id').unique(),
});

// Rollup keys are NOT NULL so that upserts find their row (SQLite's unique indexes treat NULLs
// as distinct): absent text is '' and absent integers and booleans are -1.
const rollupKey = {
  arrivalBucket: integer('arrival_bucket').notNull(),
  installBucket: integer('install_bucket').notNull(),
  protocol: text('protocol').notNull(),
  environment: text('environment').notNull(),
  signature: text('signature').notNull(),
  adNetworkId: text('ad_network_id').notNull(),
  appId: integer('app_id').notNull(),
  campaign: text('campaign').notNull(),
  campaignName: text('campaign_name').notNull(),
  networkCampaignId: text('network_campaign_id').notNull(),
  sourceIdentifier: text('source_identifier').notNull(),
  window: integer('window').notNull(),
  fidelityType: integer('fidelity_type').notNull(),
  redownload: integer('redownload').notNull(),
  didWin: integer('did_win').notNull(),
  version: text('version').notNull(),
  conversionType: text('conversion_type').notNull(),
  adInteractionType: text('ad_interaction_type').notNull(),
  countryCode: text('country_code').notNull(),
  conversionValue: integer('conversion_value').notNull(),
  coarseConversionValue: text('coarse_conversion_value').notNull(),
  sourceAppId: integer('source_app_id').notNull(),
  sourceDomain: text('source_domain').notNull(),
  currency: text('currency').notNull(),
};
export type RollupKey = { [K in keyof typeof rollupKey]: (typeof rollupKey)[K]['_']['data'] };
export const ROLLUP_KEY = Object.keys(rollupKey) as Array<keyof RollupKey>;

// Counts kept per key: the metric definitions are applied once, when a postback is counted
// (rollup/contribution.ts), so a report only adds columns up.
const count = (name: string) => integer(name).notNull().default(0);
const rollupMeasures = {
  postbacks: count('postbacks'),
  verified: count('verified'),
  installs: count('installs'),
  redownloads: count('redownloads'),
  reengagements: count('reengagements'),
  nonWinning: count('non_winning'),
  window0: count('window_0'),
  window1: count('window_1'),
  window2: count('window_2'),
  nullValues: count('null_values'),
  coarseLow: count('coarse_low'),
  coarseMedium: count('coarse_medium'),
  coarseHigh: count('coarse_high'),
  conflicts: count('conflicts'),
  invalid: count('invalid'),
  unverifiable: count('unverifiable'),
  // Cents, not micros: a group may hold 10^13 currency units (IDR, VND at volume), which as
  // micros would overflow SQLite's 64-bit integers; as cents a double stays exact up to 9·10^13.
  revenueMinCents: count('revenue_min_cents'),
  revenueMaxCents: count('revenue_max_cents'),
};
export type RollupMeasures = { [K in keyof typeof rollupMeasures]: number };
export const ROLLUP_MEASURES = Object.keys(rollupMeasures) as Array<keyof RollupMeasures>;

export const keyColumns = (t: { [K in keyof RollupKey]: SQLiteColumn }) => ROLLUP_KEY.map((k) => t[k]) as [SQLiteColumn, ...SQLiteColumn[]];

/**
 * The rollup key as the primary key, app and arrival time first. The tables are WITHOUT ROWID
 * (migration 0006; drizzle-kit cannot declare it): rows are stored in this order, so one app's
 * range of days is read from neighbouring pages, and the key is one B-tree instead of a table
 * plus a unique index.
 */
const clusteredKey = (t: { [K in keyof RollupKey]: SQLiteColumn }) =>
  [t.appId, t.arrivalBucket, ...keyColumns(t).filter((c) => c !== t.appId && c !== t.arrivalBucket)] as [SQLiteColumn, ...SQLiteColumn[]];

/**
 * Campaign-level aggregates in UTC buckets of 15 minutes (every time-zone offset in use is a
 * multiple of 15 minutes, so any zone's days are exact unions of buckets), by arrival and by
 * estimated install time. Kept up to date in the same atomic write as each postback.
 */
export const rollups = sqliteTable(
  'rollups',
  {
    ...rollupKey,
    ...rollupMeasures,
  },
  (t) => [
    primaryKey({ name: 'rollups_key', columns: clusteredKey(t) }),
    // Secondary indexes carry the whole key here: each costs every write. Reports always name
    // the apps (reports.ts walks them when none is asked for), so app-first indexes suffice.
    index('rollups_app_install').on(t.appId, t.installBucket),
  ],
);

/** Decoded events, with the same key as `rollups` plus the event name. */
export const rollupEvents = sqliteTable(
  'rollup_events',
  {
    ...rollupKey,
    event: text('event').notNull(),
    /** Real (verified or development) postbacks with this event; only those are in the counts. */
    postbacks: count('postbacks'),
    countMin: count('count_min'),
    countMax: count('count_max'),
  },
  (t) => [primaryKey({ name: 'rollup_events_key', columns: [...clusteredKey(t), t.event] }), index('rollup_events_app_install').on(t.appId, t.installBucket)],
);

/** API keys for the analyst and admin routes; only a hash of the secret is kept. */
export const apiKeys = sqliteTable('api_keys', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  role: text('role', { enum: ['analyst', 'admin'] }).notNull(),
  /** Mandatory filters on every read: null means every app (or network). */
  appIds: text('app_ids', { mode: 'json' }).$type<number[]>(),
  adNetworkIds: text('ad_network_ids', { mode: 'json' }).$type<string[]>(),
  secretSha256: text('secret_sha256').notNull().unique(),
  /** The first characters of the secret, so people can tell their keys apart. */
  prefix: text('prefix').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
});

/** Partners that receive copies of postbacks (MMPs, the advertiser's own endpoint). */
export const destinations = sqliteTable('destinations', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  url: text('url').notNull(),
  method: text('method', { enum: ['POST', 'PUT', 'GET'] }).notNull(),
  format: text('format', { enum: ['raw', 'enriched', 'template'] }).notNull(),
  bodyTemplate: text('body_template'),
  enrichedKeys: text('enriched_keys', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  filters: text('filters', { mode: 'json' }).$type<DestinationFilters>().notNull(),
  headers: text('headers', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  /** HMAC key for X-Skanpost-Signature: needed in clear to sign, never returned by the API. */
  secret: text('secret'),
  retry: text('retry', { mode: 'json' }).$type<RetryPolicy>().notNull(),
  timeoutMs: integer('timeout_ms').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  /** A paused destination keeps collecting deliveries and sends them on resume. */
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  /** Why skanpost itself disabled it (a migration that found it could never deliver); cleared on the next change. */
  lastError: text('last_error'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

/**
 * The outbox, written in the same atomic unit as what it sends: one row per (Apple postback,
 * destination), per (MMP postback, destination), or per impression to announce to the MMP (no
 * destination: the link's `impression_url`). A sender claims due rows with a lease
 * (`claimed_until`) so two never send one row.
 */
export const deliveries = sqliteTable(
  'deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    postbackId: integer('postback_id'),
    mmpPostbackId: integer('mmp_postback_id'),
    /** An impression (a `clicks` row with touch `impression`) whose link has an impression_url. */
    clickRowId: integer('click_row_id'),
    destinationId: integer('destination_id'),
    state: text('state', { enum: ['pending', 'delivered', 'dead'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }).notNull(),
    claimedUntil: integer('claimed_until', { mode: 'timestamp_ms' }),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    lastLatencyMs: integer('last_latency_ms'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    deliveredAt: integer('delivered_at', { mode: 'timestamp_ms' }),
  },
  (t) => [
    uniqueIndex('deliveries_postback_destination').on(t.postbackId, t.destinationId),
    uniqueIndex('deliveries_mmp_postback_destination').on(t.mmpPostbackId, t.destinationId),
    uniqueIndex('deliveries_click').on(t.clickRowId),
    index('deliveries_due').on(t.state, t.nextAttemptAt),
    index('deliveries_destination').on(t.destinationId, t.state),
  ],
);
export type DestinationRow = typeof destinations.$inferSelect;
export type NewDestinationRow = typeof destinations.$inferInsert;
export type DeliveryRow = typeof deliveries.$inferSelect;

/**
 * One row whose counter every change to schemas, campaign names or destinations bumps, so a
 * process can keep those small tables in memory and still see changes made by any other.
 */
export const settingsRevision = sqliteTable('settings_revision', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});

/**
 * D1 has no interactive transactions: a `db.batch()` cannot branch on what its own statements
 * did. A batch that must be all-or-nothing on a condition writes a mark here first, only when the
 * condition holds, and every later statement of the batch runs only if its mark exists; the last
 * statement deletes it. `floor` is the newest postback id the batch saw before its insert, so a
 * row it finds above the floor is its own. Rows never outlive their batch.
 */
export const writeMarks = sqliteTable('write_marks', {
  token: text('token').primaryKey(),
  floor: integer('floor'),
  postbackId: integer('postback_id'),
});

/** Secrets skanpost generates once and keeps (the click-ID key when SKANPOST_CLICK_SECRET is unset). */
export const serverSecrets = sqliteTable('server_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
});

/** A network's tracking link: where `/c/:id` redirects (the MMP's attribution link), for which app and campaign. */
export const links = sqliteTable('links', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  appId: integer('app_id').notNull(),
  adNetworkId: text('ad_network_id').notNull(),
  networkCampaignId: text('network_campaign_id').notNull(),
  mmpPartnerId: integer('mmp_partner_id').notNull(),
  targetUrl: text('target_url').notNull(),
  impressionUrl: text('impression_url'),
  clickLookbackDays: integer('click_lookback_days').notNull(),
  viewLookbackHours: integer('view_lookback_hours').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});
export type LinkRow = typeof links.$inferSelect;

/** An MMP that sends postbacks to `/mmp/:id`: how its parameters are named and written, who may send them. */
export const mmpPartners = sqliteTable('mmp_partners', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  preset: text('preset', { enum: ['appsflyer', 'adjust', 'singular', 'branch', 'kochava', 'custom'] }).notNull(),
  /** skanpost's field name → the request's parameter name. */
  params: text('params', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  /** CIDRs allowed to post, `"preset"` for the MMP's published ranges, null for everyone. */
  allowlist: text('allowlist', { mode: 'json' }).$type<string[] | 'preset' | null>(),
  /** Null: detected per value. */
  timestampFormat: text('timestamp_format', { enum: ['unix_s', 'unix_ms', 'iso8601', 'datetime'] }),
  revenueUnit: text('revenue_unit', { enum: ['units', 'cents'] }).notNull(),
  tokenSha256: text('token_sha256').notNull(),
  /** After a rotation the old token stays valid until `previous_token_until`. */
  previousTokenSha256: text('previous_token_sha256'),
  previousTokenUntil: integer('previous_token_until', { mode: 'timestamp_ms' }),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});
export type MmpPartnerRow = typeof mmpPartners.$inferSelect;

/**
 * The network's click log: a click or impression served through a link (`/c`, `/i`) or imported.
 * No IP address, no user agent. Kept until its lookback plus 30 days (`expires_at`).
 */
export const clicks = sqliteTable(
  'clicks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    clickId: text('click_id').notNull().unique(),
    linkId: integer('link_id').notNull(),
    appId: integer('app_id').notNull(),
    touch: text('touch', { enum: ['click', 'impression'] }).notNull(),
    clickedAt: integer('clicked_at', { mode: 'timestamp_ms' }).notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    imported: integer('imported', { mode: 'boolean' }).notNull(),
    sub1: text('sub1'),
    sub2: text('sub2'),
    sub3: text('sub3'),
    sub4: text('sub4'),
    sub5: text('sub5'),
  },
  // By app: moving an app between shards walks its clicks.
  (t) => [index('clicks_expires').on(t.expiresAt), index('clicks_app').on(t.appId, t.id)],
);
export type ClickRow = typeof clicks.$inferSelect;

/**
 * MMP postbacks: installs and in-app events an MMP attributed (or not) to the network. Only the
 * parameters the partner's mapping names are kept (`raw`): never the token, a device identifier, an
 * IP address or a user agent.
 */
export const mmpPostbacks = sqliteTable(
  'mmp_postbacks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    partnerId: integer('partner_id').notNull(),
    receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
    outcome: text('outcome', { enum: ['accepted', 'unattributed', 'fraud_rejected', 'rejected'] }).notNull(),
    reasons: text('reasons', { mode: 'json' }).$type<string[]>().notNull(),
    /** partner|click_id|event_name|event_id (or a hash of the parameters without an event_id). */
    dedupeKey: text('dedupe_key').notNull().unique(),
    /** The mapped parameters as received, as a JSON object of strings. */
    raw: text('raw').notNull(),
    clickId: text('click_id'),
    /** The validated click's link and what it carries; null unless the click was validated. */
    linkId: integer('link_id'),
    appId: integer('app_id'),
    adNetworkId: text('ad_network_id'),
    networkCampaignId: text('network_campaign_id'),
    campaign: text('campaign'),
    sub1: text('sub1'),
    sub2: text('sub2'),
    sub3: text('sub3'),
    sub4: text('sub4'),
    sub5: text('sub5'),
    eventName: text('event_name').notNull(),
    eventId: text('event_id'),
    eventValue: text('event_value'),
    revenue: real('revenue'),
    currency: text('currency'),
    eventTime: integer('event_time', { mode: 'timestamp_ms' }).notNull(),
    installTime: integer('install_time', { mode: 'timestamp_ms' }),
    clickTime: integer('click_time', { mode: 'timestamp_ms' }),
    touchType: text('touch_type', { enum: ['click', 'impression'] }),
    isReattribution: integer('is_reattribution', { mode: 'boolean' }).notNull(),
    attributed: integer('attributed', { mode: 'boolean' }).notNull(),
    rejected: integer('rejected', { mode: 'boolean' }).notNull(),
    rejectReason: text('reject_reason'),
    countryCode: text('country_code'),
    os: text('os'),
    /** Seconds from the click to the install, for installs with a known click. */
    ctitSeconds: integer('ctit_seconds'),
  },
  // By click: each event postback looks up the accepted install of its click.
  (t) => [index('mmp_postbacks_app').on(t.appId, t.id), index('mmp_postbacks_received_at').on(t.receivedAt), index('mmp_postbacks_click').on(t.clickId)],
);
export type MmpPostbackRow = typeof mmpPostbacks.$inferSelect;

// As for Apple's rollups: key columns never null (absent text '', integers -1) so upserts find their row.
const mmpRollupKey = {
  appId: integer('app_id').notNull(),
  arrivalBucket: integer('arrival_bucket').notNull(),
  /** The event's time (an install's install time; a click's click time). */
  eventBucket: integer('event_bucket').notNull(),
  /** The validated click's time; for a postback without one, its event time. */
  clickBucket: integer('click_bucket').notNull(),
  adNetworkId: text('ad_network_id').notNull(),
  linkId: integer('link_id').notNull(),
  networkCampaignId: text('network_campaign_id').notNull(),
  campaign: text('campaign').notNull(),
  mmpPartnerId: integer('mmp_partner_id').notNull(),
  event: text('event').notNull(),
  touchType: text('touch_type').notNull(),
  countryCode: text('country_code').notNull(),
  sub1: text('sub1').notNull(),
  currency: text('currency').notNull(),
};
export type MmpRollupKey = { [K in keyof typeof mmpRollupKey]: (typeof mmpRollupKey)[K]['_']['data'] };
export const MMP_ROLLUP_KEY = Object.keys(mmpRollupKey) as Array<keyof MmpRollupKey>;

const mmpRollupMeasures = {
  clicks: count('clicks'),
  impressions: count('impressions'),
  installs: count('installs'),
  reattributions: count('reattributions'),
  events: count('events'),
  revenueCents: count('revenue_cents'),
  unattributed: count('unattributed'),
  fraudRejected: count('fraud_rejected'),
  rejected: count('rejected'),
  ctitUnder10s: count('ctit_under_10s'),
  ctit10s1m: count('ctit_10s_1m'),
  ctit1m1h: count('ctit_1m_1h'),
  ctit1h24h: count('ctit_1h_24h'),
  ctitOver24h: count('ctit_over_24h'),
};
export type MmpRollupMeasures = { [K in keyof typeof mmpRollupMeasures]: number };
export const MMP_ROLLUP_MEASURES = Object.keys(mmpRollupMeasures) as Array<keyof MmpRollupMeasures>;

/** Clicks, impressions and MMP postbacks in 15-minute UTC buckets, written with each one. */
export const mmpRollups = sqliteTable('mmp_rollups', { ...mmpRollupKey, ...mmpRollupMeasures }, (t) => [
  primaryKey({ name: 'mmp_rollups_key', columns: MMP_ROLLUP_KEY.map((k) => t[k] as SQLiteColumn) as [SQLiteColumn, ...SQLiteColumn[]] }),
]);

/**
 * Later copies of a kept postback that did not become rows of their own (the same body again, or a
 * copy with the same dedupe key and the same unsigned values), so that copy reconciliation sees every
 * copy's channel and arrival. Their unsigned values are the first copy's by construction: a copy
 * whose values differ is a `postbacks` row of its own (outcome `conflict`, `first_id` set).
 */
export const postbackCopies = sqliteTable(
  'postback_copies',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** The row that holds the transaction (the first kept copy). */
    postbackId: integer('postback_id').notNull(),
    channel: text('channel').notNull(),
    receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('postback_copies_postback').on(t.postbackId)],
);

/** Keys a network relays an advertiser's developer copies with; only a hash of the secret is kept. */
export const relayKeys = sqliteTable('relay_keys', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  /** Null: the key may relay any network's postbacks. */
  adNetworkId: text('ad_network_id'),
  secretSha256: text('secret_sha256').notNull().unique(),
  prefix: text('prefix').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
});
export type RelayKeyRow = typeof relayKeys.$inferSelect;

/**
 * Figures reported elsewhere (a network's or an MMP's dashboard), uploaded to compare with. Absent
 * text is '' so that the unique key finds the row a re-upload replaces.
 */
export const reportedFigures = sqliteTable(
  'reported_figures',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    source: text('source').notNull(),
    /** A day in `tz`, YYYY-MM-DD. */
    date: text('date').notNull(),
    tz: text('tz').notNull(),
    appId: integer('app_id').notNull(),
    adNetworkId: text('ad_network_id').notNull(),
    campaign: text('campaign').notNull(),
    networkCampaignId: text('network_campaign_id').notNull(),
    metric: text('metric', { enum: ['installs', 'events', 'revenue'] }).notNull(),
    event: text('event').notNull(),
    value: real('value').notNull(),
    currency: text('currency').notNull(),
    uploadedAt: integer('uploaded_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    uniqueIndex('reported_figures_key').on(t.source, t.date, t.tz, t.appId, t.adNetworkId, t.campaign, t.networkCampaignId, t.metric, t.event),
    // The discrepancy report reads an app's rows of one zone over a range of days.
    index('reported_figures_app_day').on(t.appId, t.tz, t.date),
  ],
);
export type ReportedFigureRow = typeof reportedFigures.$inferSelect;

/**
 * Queue mode: messages the ingest queue gave up on (its dead-letter queue, consumed by this Worker),
 * kept for admins to see and replay. `body` is the message as queued (a postback row, JSON).
 */
export const queueDeadLetters = sqliteTable('queue_dead_letters', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  /** The queue message's own id: a dead letter delivered twice is kept once. */
  messageId: text('message_id').notNull().unique(),
  body: text('body').notNull(),
  /** Delivery attempts of the dead-letter message itself. */
  attempts: integer('attempts').notNull(),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
});
export type QueueDeadLetterRow = typeof queueDeadLetters.$inferSelect;

/**
 * Workers sharded by app (docs/workers.md, "At scale"): which D1 shard (`SHARD_k`) holds each app's
 * postbacks, clicks, figures and aggregates. An app is placed the first time it is seen and moves
 * only through a move job. Kept in `DB` alone; -1 stands for postbacks that name no app.
 */
export const appShards = sqliteTable(
  'app_shards',
  {
    appId: integer('app_id').primaryKey(),
    shard: integer('shard').notNull(),
    placedAt: integer('placed_at', { mode: 'timestamp_ms' }).notNull(),
    /** A move's final copy is under way: the app's writes wait in `held_messages` until its switch. */
    heldSince: integer('held_since', { mode: 'timestamp_ms' }),
  },
  (t) => [index('app_shards_shard').on(t.shard)],
);

export const MOVE_STATES = ['copying', 'holding', 'deleting', 'aborting', 'done', 'failed'] as const;
export type MoveState = (typeof MOVE_STATES)[number];

/** What a move has done so far, per table: rows copied, checked, deleted. Shown by `GET /v1/shards/moves/:id`. */
export interface MoveProgress {
  copied: Record<string, number>;
  /** The counts compared at the switch: the app's rows on the source and on the target. */
  verified?: Record<string, { source: number; target: number }>;
  /** Aggregate buckets rewritten on the target because a late write changed them on the source. */
  repairedBuckets?: number;
  /** Writes that arrived while the app was held, written on the target after the switch. */
  heldWrites?: number;
  deleted: Record<string, number>;
  /** Source rows still waiting for their pending deliveries before they can go. */
  pendingDeliveries?: number;
}

/**
 * Moving an app between shards (`POST /v1/shards/moves`), kept in `DB`: the cron copies the app's
 * rows to the target (`copying`), holds its writes for the final copy and the check (`holding`),
 * switches the map and deletes the source's rows (`deleting`). A failed check deletes what the target
 * got (`aborting`) and ends `failed`, the app where it was.
 */
export const shardMoves = sqliteTable(
  'shard_moves',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    appId: integer('app_id').notNull(),
    fromShard: integer('from_shard').notNull(),
    toShard: integer('to_shard').notNull(),
    state: text('state', { enum: MOVE_STATES }).notNull(),
    progress: text('progress', { mode: 'json' }).$type<MoveProgress>().notNull(),
    error: text('error'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
    heldAt: integer('held_at', { mode: 'timestamp_ms' }),
    switchedAt: integer('switched_at', { mode: 'timestamp_ms' }),
    doneAt: integer('done_at', { mode: 'timestamp_ms' }),
    /** A cron run working on the move holds it until then: two overlapping runs never copy one slice twice. */
    leasedUntil: integer('leased_until', { mode: 'timestamp_ms' }),
  },
  // One move at a time per app.
  (t) => [uniqueIndex('shard_moves_active').on(t.appId).where(sql`${t.state} in ('copying', 'holding', 'deleting', 'aborting')`)],
);
export type ShardMoveRow = typeof shardMoves.$inferSelect;

/**
 * Writes for an app whose move holds it (an Apple or MMP postback, a click, as queue messages),
 * kept in `DB` and written on the app's new shard right after the switch.
 */
export const heldMessages = sqliteTable(
  'held_messages',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    appId: integer('app_id').notNull(),
    body: text('body').notNull(),
    heldAt: integer('held_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('held_messages_app').on(t.appId, t.id)],
);

/**
 * On a shard: apps whose rows here do not count (a move is copying them in, or deleting them after
 * the switch). Every read leaves them out, so a report never counts an app twice or half.
 */
export const hiddenApps = sqliteTable('hidden_apps', {
  appId: integer('app_id').primaryKey(),
  moveId: integer('move_id').notNull(),
});

/** On a move's target shard: how far each table's copy has got, written with the rows it covers. */
export const moveCursors = sqliteTable(
  'move_cursors',
  {
    moveId: integer('move_id').notNull(),
    tableName: text('table_name').notNull(),
    cursor: integer('cursor').notNull(),
  },
  (t) => [primaryKey({ name: 'move_cursors_key', columns: [t.moveId, t.tableName] })],
);
