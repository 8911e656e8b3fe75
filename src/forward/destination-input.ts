// A partner that receives copies of postbacks: where, how, which ones, and how to retry.
import { z } from 'zod';
import { DestinationFilters, RetryPolicy } from '../model/destination.js';
import { skanSignedFields, unsignedFields } from '../postback/fields.js';

const FORMATS = ['raw', 'enriched', 'template'] as const;

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name');
const RESERVED_HEADERS = new Set(['content-length', 'host', 'idempotency-key', 'x-skanpost-signature', 'user-agent']);
// Hop-by-hop and framing headers belong to the connection, not to the message: fetch refuses
// some and a proxy would strip the others, so a destination naming them could never deliver.
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
]);

/** The keys Apple puts in a postback: an enriched copy may not overwrite one. */
const APPLE_KEYS = new Set([...Object.keys(skanSignedFields), ...Object.keys(unsignedFields), 'attribution-signature', 'jws-string']);

// user[:password]@ before the host. fetch refuses such URLs, and the password would be shown
// wherever the URL is.
const CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

/** The URL with any password in it replaced by `***`, for showing and for error messages. */
export function maskUrlPassword(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s:]*):[^/?#@\s]*@/gi, '$1$2:***@');
}

const hasCredentials = (url: string) => CREDENTIALS.test(url);

const enrichedKey = (fallback: string) =>
  z
    .string()
    .min(1)
    .refine((k) => !APPLE_KEYS.has(k), "one of Apple's postback keys: an enriched copy may not overwrite it")
    .default(fallback);

/** Names of the keys an enriched copy adds to the postback object. */
const EnrichedKeys = z
  .object({
    campaign_name: enrichedKey('campaign-name'),
    network_campaign_id: enrichedKey('network-campaign-id'),
    received_at: enrichedKey('received-at'),
    events: enrichedKey('decoded-events'),
    revenue: enrichedKey('decoded-revenue'),
  })
  .strict()
  .refine((keys) => new Set(Object.values(keys)).size === Object.keys(keys).length, 'each enriched key needs a name of its own');

export const DestinationInput = z
  .object({
    name: z.string().min(1).max(200),
    url: z
      .string()
      .max(4000)
      .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL (a template may contain {macros})')
      .refine((u) => !hasCredentials(u), 'a URL may not carry credentials (user:password@): send them in a header such as Authorization'),
    method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
    format: z.enum(FORMATS).default('raw'),
    /** For `template`: a body with macros; without one, a template destination sends no body. */
    body_template: z.string().max(16_384).nullish(),
    enriched_keys: EnrichedKeys.default(EnrichedKeys.parse({})),
    filters: DestinationFilters.default(DestinationFilters.parse({})),
    headers: z
      .record(
        headerName,
        z
          .string()
          .max(4000)
          .regex(/^[^\r\n\0]*$/, 'a header value may not contain CR, LF or NUL'),
      )
      .default({})
      .refine(
        (h) => Object.keys(h).every((k) => !RESERVED_HEADERS.has(k.toLowerCase())),
        'Content-Length, Host, Idempotency-Key, X-Skanpost-Signature and User-Agent are set by skanpost',
      )
      .refine(
        (h) => Object.keys(h).every((k) => !CONNECTION_HEADERS.has(k.toLowerCase())),
        'hop-by-hop and framing headers (Connection, Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Expect, Proxy-*) cannot be set: they belong to the connection',
      ),
    /** HMAC-SHA256 key for X-Skanpost-Signature; never shown again once saved. */
    secret: z.string().min(16).max(512).nullish(),
    retry: RetryPolicy.default(RetryPolicy.parse({})),
    timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
    enabled: z.boolean().default(true),
  })
  .strict();
export type DestinationInput = z.infer<typeof DestinationInput>;
