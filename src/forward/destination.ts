// A partner that receives copies of postbacks: where, how, which ones, and how to retry.
import { z } from 'zod';
import { RetryPolicy } from './retry.js';

export const FORMATS = ['raw', 'enriched', 'template'] as const;

export const DestinationFilters = z
  .object({
    app_ids: z.array(z.number().int().min(0)).max(1000).optional(),
    ad_network_ids: z.array(z.string().min(1)).max(1000).optional(),
    protocols: z.array(z.enum(['skan', 'aak'])).optional(),
    windows: z.array(z.number().int().min(0).max(2)).optional(),
    winning_only: z.boolean().default(false),
    verified_only: z.boolean().default(true),
    include_development: z.boolean().default(false),
    event_names: z.array(z.string().min(1)).max(100).optional(),
  })
  .strict();
export type DestinationFilters = z.infer<typeof DestinationFilters>;

/** Names of the keys an enriched copy adds to the postback object. */
export const EnrichedKeys = z
  .object({
    campaign_name: z.string().min(1).default('campaign-name'),
    network_campaign_id: z.string().min(1).default('network-campaign-id'),
    received_at: z.string().min(1).default('received-at'),
    events: z.string().min(1).default('decoded-events'),
    revenue: z.string().min(1).default('decoded-revenue'),
  })
  .strict();

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name');
const RESERVED_HEADERS = new Set(['content-length', 'host', 'idempotency-key', 'x-skanpost-signature', 'user-agent']);

export const DestinationInput = z
  .object({
    name: z.string().min(1).max(200),
    url: z
      .string()
      .max(4000)
      .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL (a template may contain {macros})'),
    method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
    format: z.enum(FORMATS).default('raw'),
    /** For `template`: a body with macros; without one, a template destination sends no body. */
    body_template: z.string().max(16_384).nullish(),
    enriched_keys: EnrichedKeys.default(EnrichedKeys.parse({})),
    filters: DestinationFilters.default(DestinationFilters.parse({})),
    headers: z
      .record(headerName, z.string().max(4000))
      .default({})
      .refine((h) => Object.keys(h).every((k) => !RESERVED_HEADERS.has(k.toLowerCase())), 'Content-Length, Host, Idempotency-Key, X-Skanpost-Signature and User-Agent are set by skanpost'),
    /** HMAC-SHA256 key for X-Skanpost-Signature; never shown again once saved. */
    secret: z.string().min(16).max(512).nullish(),
    retry: RetryPolicy.default(RetryPolicy.parse({})),
    timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
    enabled: z.boolean().default(true),
  })
  .strict();
export type DestinationInput = z.infer<typeof DestinationInput>;
