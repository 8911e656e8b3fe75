// A conversion-value schema as an app team writes it: what each fine value (0–63) and each coarse
// value per window means, as events and a revenue range in one currency. Stored as JSON, so its
// shape lives here, where the database and the decoder both take it from.
import { z } from 'zod';

/**
 * The largest revenue bound of one postback, in currency units: room for any currency at any
 * price (10^13 IDR is about 600 million USD), small enough that a report's sums stay exact to the cent.
 */
export const MAX_REVENUE = 1e13;

const count = z.number().int().min(0);
const amount = z.number().min(0).max(MAX_REVENUE, `at most ${MAX_REVENUE} (10^13) currency units`);

const SchemaEvent = z.object({ name: z.string().min(1).max(100), min: count, max: count }).refine((e) => e.min <= e.max, { message: 'event min must not exceed max' });

export const SchemaEntry = z
  .object({
    events: z.array(SchemaEvent).max(32).default([]),
    revenue: z
      .object({ min: amount, max: amount })
      .refine((r) => r.min <= r.max, { message: 'revenue min must not exceed max' })
      .optional(),
  })
  .strict();

const FineRange = SchemaEntry.and(
  z.object({ from: z.number().int().min(0).max(63), to: z.number().int().min(0).max(63) }).refine((r) => r.from <= r.to, {
    message: 'from must not exceed to',
  }),
);

const CoarseWindow = z.object({ low: SchemaEntry, medium: SchemaEntry, high: SchemaEntry }).partial().strict();

/** The JSON an app team writes (POST /v1/apps/:appId/schemas, `skanpost schema validate`). */
export const ConversionSchema = z
  .object({
    effective_from: z.iso.datetime({ offset: true }),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD'),
    fine: z.array(FineRange).max(64).default([]),
    coarse: z.object({ '0': CoarseWindow, '1': CoarseWindow, '2': CoarseWindow }).partial().strict().default({}),
    note: z.string().max(1000).optional(),
  })
  .strict()
  .superRefine((schema, ctx) => {
    const seen = new Map<number, number>();
    schema.fine.forEach((range, index) => {
      for (let v = range.from; v <= range.to; v++) {
        if (seen.has(v)) {
          ctx.addIssue({ code: 'custom', path: ['fine', index], message: `value ${v} is already mapped by fine[${seen.get(v)}]` });
          return;
        }
        seen.set(v, index);
      }
    });
  });
export type ConversionSchema = z.infer<typeof ConversionSchema>;
export type SchemaEntry = z.infer<typeof SchemaEntry>;
