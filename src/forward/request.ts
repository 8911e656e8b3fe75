// The HTTP request a destination gets for one postback: format, macros, headers, signature.
import type { DestinationRow, MmpPostbackRow, PostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';
import { VERSION } from '../version.js';
import { renderTemplate, type Subject } from './template.js';

const USER_AGENT = `skanpost/${VERSION}`;

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

const encoder = new TextEncoder();
const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (docs/forwarding.md, "Verifying forwarded copies"). */
export async function signatureHeader(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `t=${unixSeconds},v1=${hex(await crypto.subtle.sign('HMAC', key, encoder.encode(`${unixSeconds}.${body}`)))}`;
}

function enriched(destination: DestinationRow, postback: PostbackRow): string {
  const keys = destination.enrichedKeys;
  const object = JSON.parse(postback.body) as Record<string, unknown>;
  object[keys.campaign_name!] = postback.campaignName;
  object[keys.network_campaign_id!] = postback.networkCampaignId;
  object[keys.received_at!] = postback.receivedAt.toISOString();
  object[keys.events!] = postback.decode?.events ?? null;
  object[keys.revenue!] = postback.decode ? { min: postback.decode.revenueMinMicros / 1e6, max: postback.decode.revenueMaxMicros / 1e6, currency: postback.decode.currency } : null;
  return JSON.stringify(object);
}

/** An MMP postback's stored parameters, plus what skanpost knows of its click. */
function enrichedMmp(destination: DestinationRow, postback: MmpPostbackRow): string {
  const keys = destination.enrichedKeys;
  const object = JSON.parse(postback.raw) as Record<string, unknown>;
  object[keys.network_campaign_id!] = postback.networkCampaignId;
  object[keys.received_at!] = postback.receivedAt.toISOString();
  return JSON.stringify(object);
}

function bodyOf(destination: DestinationRow, subject: Subject): string | null {
  if (destination.format === 'template') return destination.bodyTemplate ? renderTemplate(destination.bodyTemplate, subject) : null;
  if (subject.kind === 'postback') return destination.format === 'raw' ? subject.row.body : enriched(destination, subject.row);
  // `raw` for an MMP postback: the request as it was stored, as JSON.
  return destination.format === 'raw' ? subject.row.raw : enrichedMmp(destination, subject.row);
}

export async function buildRequest(destination: DestinationRow, subject: Subject, now: Date): Promise<OutgoingRequest> {
  const body = bodyOf(destination, subject);
  // Stable per postback and destination, so a partner can drop a copy it already has.
  const identity = subject.kind === 'postback' ? subject.row.bodySha256.slice(0, 32) : `mmp-${sha256Hex(subject.row.dedupeKey).slice(0, 32)}`;
  const headers: Record<string, string> = { ...destination.headers, 'User-Agent': USER_AGENT, 'Idempotency-Key': `${identity}-${destination.id}` };
  if (body !== null && !Object.keys(destination.headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = destination.format === 'template' ? 'application/x-www-form-urlencoded' : 'application/json';
  }
  if (destination.secret) headers['X-Skanpost-Signature'] = await signatureHeader(destination.secret, body ?? '', Math.floor(now.getTime() / 1000));
  return { url: renderTemplate(destination.url, subject), method: destination.method, headers, body };
}

/** An impression announced to the MMP: a GET of the link's impression URL, nothing about the device. */
export const impressionRequest = (url: string): OutgoingRequest => ({ url, method: 'GET', headers: { 'User-Agent': USER_AGENT }, body: null });
