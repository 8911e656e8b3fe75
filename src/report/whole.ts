// The reports computed in one piece rather than in runs of days (discrepancies, copies): one job
// that Node hands a reader thread whole, and that a Worker runs in its isolate.
import type { Db } from '../db/db.js';
import { type CopyQuery, runCopies } from './copies.js';
import { type DiscrepancyQuery, runDiscrepancies } from './discrepancies.js';
import { wholeReportBody } from './render.js';

export type WholeJob = { kind: 'discrepancies'; query: DiscrepancyQuery; fillingHorizonMs: number } | { kind: 'copies'; query: CopyQuery };

/** The answer's body, JSON or CSV as the query asks. */
export async function renderWhole(dbs: readonly Db[], job: WholeJob, now: Date): Promise<string> {
  const result = job.kind === 'discrepancies' ? await runDiscrepancies(dbs, job.query, now, job.fillingHorizonMs) : await runCopies(dbs, job.query, now);
  return wholeReportBody(result, job.query.base.format);
}
