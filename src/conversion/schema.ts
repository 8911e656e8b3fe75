// Which of an app's conversion-value schema versions decodes a postback.
import type { ConversionSchema } from '../model/conversion-schema.js';

/** A stored schema version of one app. */
export interface SchemaVersion {
  appId: number;
  version: number;
  effectiveFrom: Date;
  definition: ConversionSchema;
}

/** The version in force at `at`: the latest start not after it; a later version wins a tie. */
export function schemaInForce<T extends Pick<SchemaVersion, 'version' | 'effectiveFrom'>>(versions: readonly T[], at: Date): T | undefined {
  let best: T | undefined;
  for (const v of versions) {
    if (v.effectiveFrom.getTime() > at.getTime()) continue;
    if (!best || v.effectiveFrom > best.effectiveFrom || (v.effectiveFrom.getTime() === best.effectiveFrom.getTime() && v.version > best.version)) {
      best = v;
    }
  }
  return best;
}
