// Estimating when the app was installed (first launched) from when its postback arrived.
import { z } from 'zod';

const hours = z
  .number()
  .min(0)
  .max(24 * 100);
const range = z.tuple([hours, hours]).refine(([a, b]) => a <= b, { message: 'a delay range is [min, max]' });

/**
 * docs/postbacks.md, "Conversion windows and timing". SKAN 4 and AdAttributionKit: window 0 ends 48 h after first launch, windows 1 and 2
 * at 7 and 35 days; postback 0 then waits 24–48 h, postbacks 1 and 2 wait 24–144 h. SKAN ≤ 3: one
 * postback 24–48 h after a 24 h timer that starts at the last conversion-value update, taken here
 * as the install day itself (apps that keep updating will be estimated too late).
 */
export const InstallModel = z
  .object({
    window_end_hours: z.tuple([hours, hours, hours]).default([48, 168, 840]),
    delay_hours: z.tuple([range, range, range]).default([
      [24, 48],
      [24, 144],
      [24, 144],
    ]),
    legacy_end_hours: hours.default(24),
    legacy_delay_hours: range.default([24, 48]),
  })
  .strict();
export type InstallModel = z.infer<typeof InstallModel>;

export const DEFAULT_INSTALL_MODEL: InstallModel = InstallModel.parse({});

const HOUR = 3_600_000;
const mean = ([a, b]: readonly [number, number]) => (a + b) / 2;

export interface InstallInput {
  protocol: 'skan' | 'aak';
  version: string | null;
  window: number;
}

/** SKAN 4.0 and AAK have windows; every other SKAN version sends a single postback. */
const hasWindows = (input: InstallInput) => input.protocol === 'aak' || input.version === '4.0';

export function estimateInstall(arrival: Date, input: InstallInput, model: InstallModel = DEFAULT_INSTALL_MODEL): Date {
  const w = Math.min(Math.max(input.window, 0), 2) as 0 | 1 | 2;
  const back = hasWindows(input) ? model.window_end_hours[w] + mean(model.delay_hours[w]) : model.legacy_end_hours + mean(model.legacy_delay_hours);
  return new Date(arrival.getTime() - back * HOUR);
}

/** How long after an install day ends its last postbacks can still arrive (41 days by default). */
export function fillingHorizonMs(model: InstallModel = DEFAULT_INSTALL_MODEL): number {
  const windowed = Math.max(...model.window_end_hours.map((end, w) => end + model.delay_hours[w]![1]));
  return Math.max(windowed, model.legacy_end_hours + model.legacy_delay_hours[1]) * HOUR;
}
