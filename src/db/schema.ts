// The one drizzle schema for both drivers (better-sqlite3 on Node, D1 on Workers).
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
  },
  (t) => [
    index('postbacks_received_at').on(t.receivedAt),
    // `reverify` walks only the rows that may change.
    index('postbacks_unsettled').on(t.id).where(sql`${t.signature} in ('invalid', 'unverifiable')`),
    index('postbacks_transaction').on(t.adNetworkId, t.transactionId),
  ],
);

export type PostbackRow = typeof postbacks.$inferSelect;
export type NewPostbackRow = typeof postbacks.$inferInsert;
