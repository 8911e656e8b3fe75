// The HTTP request a destination gets for one postback: format, macros, headers, signature.
import type { DestinationRow, PostbackRow } from '../db/schema.js';
import { VERSION } from '../version.js';
import { renderTemplate } from './template.js';

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

export async function buildRequest(destination: DestinationRow, postback: PostbackRow, now: Date): Promise<OutgoingRequest> {
  const body =
    destination.format === 'raw'
      ? postback.body
      : destination.format === 'enriched'
        ? enriched(destination, postback)
        : destination.bodyTemplate
          ? renderTemplate(destination.bodyTemplate, postback)
          : null;
  const headers: Record<string, string> = {
    ...destination.headers,
    'User-Agent': USER_AGENT,
    // Stable per postback and destination, so a partner can drop a copy it already has.
    'Idempotency-Key': `${postback.bodySha256.slice(0, 32)}-${destination.id}`,
  };
  if (body !== null && !Object.keys(destination.headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = destination.format === 'template' ? 'application/x-www-form-urlencoded' : 'application/json';
  }
  if (destination.secret) headers['X-Skanpost-Signature'] = await signatureHeader(destination.secret, body ?? '', Math.floor(now.getTime() / 1000));
  return { url: renderTemplate(destination.url, postback), method: destination.method, headers, body };
}
