// skanpost's group commits as its /metrics counts them: how many units (postbacks, mostly) its
// writer committed, in how many commits. Units per commit say how many postbacks share one
// commit's WAL writes and fsync.

/** The writer's units and commits so far, read from the exposition text; undefined if absent. */
export function commitCounts(metrics: string): { units: number; commits: number } | undefined {
  const read = (name: string) => Number(new RegExp(`^skanpost_group_commit_units_${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  const units = read('sum');
  const commits = read('count');
  return Number.isFinite(units) && Number.isFinite(commits) ? { units, commits } : undefined;
}
