// The JSON columns of a destination: which postbacks it wants and how to retry it. Saved as
// validated here, read back by the database layer and the sender.
import { z } from 'zod';

export const DestinationFilters = z
  .object({
    app_ids: z.array(z.number().int().min(0)).max(1000).optional(),
    ad_network_ids: z.array(z.string().min(1)).max(1000).optional(),
    /** Apple's postbacks (`skan`, `aak`; both when absent) and MMP postbacks (`mmp`, only when named). */
    protocols: z.array(z.enum(['skan', 'aak', 'mmp'])).optional(),
    windows: z.array(z.number().int().min(0).max(2)).optional(),
    winning_only: z.boolean().default(false),
    verified_only: z.boolean().default(true),
    include_development: z.boolean().default(false),
    event_names: z.array(z.string().min(1)).max(100).optional(),
  })
  .strict();
export type DestinationFilters = z.infer<typeof DestinationFilters>;

/** Exponential backoff with a cap and jitter, per destination (forward/retry.ts applies it). */
export const RetryPolicy = z
  .object({
    first_delay_s: z.number().min(0.01).max(86_400).default(60),
    factor: z.number().min(1).max(10).default(3),
    cap_s: z.number().min(0.01).max(86_400).default(3_600),
    max_attempts: z.number().int().min(1).max(100).default(30),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;
