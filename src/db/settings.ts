// Per-app settings analysts and admins manage: conversion-value schemas and campaign names.
// Every change queues a re-derive of the app's postbacks so the aggregates follow.
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { ConversionSchema } from '../model/conversion-schema.js';
import type { Db } from './db.js';
import { enqueueRederive } from './jobs.js';
import { campaigns, conversionSchemas } from './schema.js';
import { bumpSettings } from './settings-snapshot.js';
import type { Unit } from './store.js';

export type SchemaRow = typeof conversionSchemas.$inferSelect;
export type CampaignRow = typeof campaigns.$inferSelect;

/** The statements every settings change ends with, in its own atomic unit. */
const followChange = (db: Db, appId: number, now: Date) => [bumpSettings(db), enqueueRederive(db, appId, now)];

export async function addSchema(tx: Unit, appId: number, definition: ConversionSchema, now: Date): Promise<SchemaRow> {
  const db = tx.db;
  // The next version is taken inside the insert, so two admins adding at once cannot collide.
  const nextVersion = sql`(select coalesce(max(${conversionSchemas.version}), 0) + 1 from ${conversionSchemas} where ${eq(conversionSchemas.appId, appId)})`;
  const [inserted] = await tx.batch([
    db
      .insert(conversionSchemas)
      .values({ appId, version: nextVersion, effectiveFrom: new Date(definition.effective_from), definition, createdAt: now })
      .returning(),
    ...followChange(db, appId, now),
  ]);
  return (inserted as SchemaRow[])[0]!;
}

export async function listSchemas(db: Db, appId: number): Promise<SchemaRow[]> {
  return db.select().from(conversionSchemas).where(eq(conversionSchemas.appId, appId)).orderBy(asc(conversionSchemas.version));
}

export async function getSchema(db: Db, appId: number, version: number): Promise<SchemaRow | undefined> {
  const [row] = await db
    .select()
    .from(conversionSchemas)
    .where(and(eq(conversionSchemas.appId, appId), eq(conversionSchemas.version, version)));
  return row;
}

export async function deleteSchema(tx: Unit, appId: number, version: number, now: Date): Promise<boolean> {
  const db = tx.db;
  if (!(await getSchema(db, appId, version))) return false;
  const [deleted] = await tx.batch([
    db
      .delete(conversionSchemas)
      .where(and(eq(conversionSchemas.appId, appId), eq(conversionSchemas.version, version)))
      .returning(),
    ...followChange(db, appId, now),
  ]);
  return (deleted as SchemaRow[]).length > 0;
}

export interface CampaignInput {
  ad_network_id: string;
  app_id: number;
  source_identifier: string;
  name: string;
  network_campaign_id?: string | null | undefined;
  effective_from?: string | null | undefined;
  effective_to?: string | null | undefined;
}

export async function addCampaign(tx: Unit, input: CampaignInput, now: Date): Promise<CampaignRow> {
  const db = tx.db;
  const insert = db
    .insert(campaigns)
    .values({
      adNetworkId: input.ad_network_id,
      appId: input.app_id,
      sourceIdentifier: input.source_identifier,
      name: input.name,
      networkCampaignId: input.network_campaign_id ?? null,
      effectiveFrom: input.effective_from ? new Date(input.effective_from) : null,
      effectiveTo: input.effective_to ? new Date(input.effective_to) : null,
      createdAt: now,
    })
    .returning();
  const [inserted] = await tx.batch([insert, ...followChange(db, input.app_id, now)]);
  return (inserted as CampaignRow[])[0]!;
}

export async function listCampaigns(db: Db, filter: { appIds?: number[]; adNetworkIds?: string[] } = {}): Promise<CampaignRow[]> {
  const rows = await db.select().from(campaigns).orderBy(desc(campaigns.id));
  return rows.filter((r) => (!filter.appIds || filter.appIds.includes(r.appId)) && (!filter.adNetworkIds || filter.adNetworkIds.includes(r.adNetworkId)));
}

export async function getCampaign(db: Db, id: number): Promise<CampaignRow | undefined> {
  const [row] = await db.select().from(campaigns).where(eq(campaigns.id, id));
  return row;
}

/** Deletes a mapping the caller has looked up (and checked against its scope). */
export async function deleteCampaign(tx: Unit, row: CampaignRow, now: Date): Promise<boolean> {
  const db = tx.db;
  const [deleted] = await tx.batch([db.delete(campaigns).where(eq(campaigns.id, row.id)).returning(), ...followChange(db, row.appId, now)]);
  return (deleted as CampaignRow[]).length > 0;
}
