// Moving an app between shards (Workers sharded by app, `POST /v1/shards/moves`), in bounded cron
// slices that resume from where they stopped:
//
// - copying: the app's rows are copied to the target, table by table in id (or bucket) order, each
//   slice's rows and its cursor in one batch on the target, so a slice retried after a failure copies
//   nothing twice. The target leaves the app out of its reads (`hidden_apps`) the whole time, and the
//   source keeps taking the app's writes.
// - holding: once the copy has caught up, the app's writes are held (`app_shards.held_since`; they
//   wait in `held_messages`). After every isolate's cached placement has expired the last rows are
//   copied, the aggregate buckets compared (a late write, e.g. a dead letter replayed, may have changed
//   one already copied: it is copied again) and the row counts checked; then the map switches.
// - deleting: the held writes go to the target, and the source's rows are deleted in slices (those
//   whose deliveries are still pending last; their delivery history goes to the target with them).
// - aborting: a check that fails deletes what the target got; the app stays where it was.
import { and, asc, desc, eq, getTableColumns, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/db.js';
import {
  appShards,
  clicks,
  deliveries,
  heldMessages,
  hiddenApps,
  MMP_ROLLUP_MEASURES,
  type MoveProgress,
  type MoveState,
  maintenanceJobs,
  mmpPostbacks,
  mmpRollups,
  moveCursors,
  postbackCopies,
  postbacks,
  ROLLUP_MEASURES,
  reportedFigures,
  rollupEvents,
  rollups,
  type ShardMoveRow,
  shardMoves,
} from '../db/schema.js';
import { SHARD_MAP_TTL_MS, type Shard, type Shards } from '../db/shards.js';

/** Moves that are still under way. */
const ACTIVE_STATES: readonly MoveState[] = ['copying', 'holding', 'deleting', 'aborting'];

/**
 * How long after the hold the final copy starts, and after the switch the deletes: longer than an
 * isolate trusts a cached placement, plus time for a write that read it to commit.
 */
export const MOVE_SETTLE_MS = SHARD_MAP_TTL_MS + 15_000;

/** How long a cron run may work on a move before another may take it over (runs stop starting work after 20 s). */
const MOVE_LEASE_MS = 120_000;
/** Rows per slice: postbacks carry their bodies (at most 16 KiB each). */
const POSTBACKS_PER_SLICE = 200;
const ROWS_PER_SLICE = 1000;
/** One JSON parameter stays below this (D1 takes strings up to 2 MB). */
const PARAM_BYTES = 512 * 1024;

type Value = string | number | null;
type Row = Value[];

/** Why a move cannot start (each a documented error reason). */
export type MoveRefusal = 'single_database' | 'shard_not_bound' | 'unknown_app' | 'already_there' | 'move_in_progress' | 'target_not_empty';

export class MoveRefused extends Error {
  constructor(
    readonly status: 404 | 409 | 422,
    readonly code: MoveRefusal,
    message: string,
  ) {
    super(message);
  }
}

const columnsOf = (table: SQLiteTable, except: readonly string[] = []) =>
  Object.values(getTableColumns(table))
    .map((c) => c.name)
    .filter((name) => !except.includes(name));
const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** Rows as JSON arrays, cut so that no parameter grows past PARAM_BYTES. */
function jsonChunks(rows: readonly Row[]): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const text = JSON.stringify(row);
    if (part.length && bytes + text.length + 1 > PARAM_BYTES) {
      out.push(`[${part.join(',')}]`);
      part = [];
      bytes = 2;
    }
    part.push(text);
    bytes += text.length + 1;
  }
  if (part.length) out.push(`[${part.join(',')}]`);
  return out;
}

// --- the tables, as a move copies them

/** Rows with ids of their own, copied in id order; `key` finds a row again on the other shard. */
interface RawTable {
  table: SQLiteTable;
  name: 'postbacks' | 'clicks' | 'mmp_postbacks';
  key: string;
  /** deliveries' column that points at it. */
  deliveryRef: 'postback_id' | 'click_row_id' | 'mmp_postback_id';
  /** Copied columns (not `id`; `first_id` is set afterwards from the first row's body hash). */
  columns: string[];
  limit: number;
}
const RAW: readonly RawTable[] = [
  { table: postbacks, name: 'postbacks', key: 'body_sha256', deliveryRef: 'postback_id', columns: columnsOf(postbacks, ['id', 'first_id']), limit: POSTBACKS_PER_SLICE },
  { table: clicks, name: 'clicks', key: 'click_id', deliveryRef: 'click_row_id', columns: columnsOf(clicks, ['id']), limit: ROWS_PER_SLICE },
  { table: mmpPostbacks, name: 'mmp_postbacks', key: 'dedupe_key', deliveryRef: 'mmp_postback_id', columns: columnsOf(mmpPostbacks, ['id']), limit: ROWS_PER_SLICE },
];

/** Aggregates, keyed by app and arrival bucket first: copied bucket by bucket. */
interface AggregateTable {
  table: SQLiteTable;
  name: 'rollups' | 'rollup_events' | 'mmp_rollups';
  columns: string[];
  /** Every write adds to at least one of these: equal sums per bucket mean equal buckets. */
  measures: string[];
}
const AGGREGATES: readonly AggregateTable[] = [
  { table: rollups, name: 'rollups', columns: columnsOf(rollups), measures: ROLLUP_MEASURES.map((m) => rollups[m].name) },
  { table: rollupEvents, name: 'rollup_events', columns: columnsOf(rollupEvents), measures: ['postbacks', 'count_min', 'count_max'] },
  { table: mmpRollups, name: 'mmp_rollups', columns: columnsOf(mmpRollups), measures: MMP_ROLLUP_MEASURES.map((m) => mmpRollups[m].name) },
];
const REPORTED_COLUMNS = columnsOf(reportedFigures, ['id']);
const DELIVERY_COLUMNS = columnsOf(deliveries, ['id', 'postback_id', 'click_row_id', 'mmp_postback_id']);
/** The cursor of the copies that arrived after the copy began (those before go with their postbacks). */
const LATE_COPIES = 'postback_copies';

// --- starting and showing moves

export interface MoveView {
  id: number;
  app_id: number;
  from: number;
  to: number;
  state: MoveState;
  error: string | null;
  progress: MoveProgress;
  created_at: string;
  held_at: string | null;
  switched_at: string | null;
  done_at: string | null;
}

export const moveView = (m: ShardMoveRow): MoveView => ({
  id: m.id,
  app_id: m.appId,
  from: m.fromShard,
  to: m.toShard,
  state: m.state,
  error: m.error,
  progress: m.progress,
  created_at: m.createdAt.toISOString(),
  held_at: m.heldAt?.toISOString() ?? null,
  switched_at: m.switchedAt?.toISOString() ?? null,
  done_at: m.doneAt?.toISOString() ?? null,
});

/** Does the shard hold any row of the app (copied in by an earlier move that did not finish, say)? */
async function holdsRows(shard: Shard, appId: number): Promise<boolean> {
  const [row] = await shard.db.values<[number]>(
    sql`select exists (select 1 from postbacks where app_id = ${appId}) or exists (select 1 from clicks where app_id = ${appId})
      or exists (select 1 from mmp_postbacks where app_id = ${appId}) or exists (select 1 from rollups where app_id = ${appId})
      or exists (select 1 from mmp_rollups where app_id = ${appId}) or exists (select 1 from reported_figures where app_id = ${appId})`,
  );
  return row?.[0] === 1;
}

/** Queues the move of `appId` to shard `to`; the cron does the work. */
export async function startMove(settingsDb: Db, shards: Shards, appId: number, to: number, now: Date): Promise<ShardMoveRow> {
  const bound = shards.all.length;
  if (bound < 2) throw new MoveRefused(409, 'single_database', 'there is one database (no SHARD_k bindings, or Node): nothing to move between');
  if (to >= bound) throw new MoveRefused(422, 'shard_not_bound', `SHARD_${to} is not bound (shards 0 to ${bound - 1} are)`);
  const from = (await shards.placements([appId])).get(appId);
  if (from === undefined) throw new MoveRefused(404, 'unknown_app', `app ${appId} has no shard yet: nothing of it is stored`);
  if (from === to) throw new MoveRefused(409, 'already_there', `app ${appId} is on shard ${to} already`);
  const [active] = await settingsDb
    .select()
    .from(shardMoves)
    .where(and(eq(shardMoves.appId, appId), inArray(shardMoves.state, [...ACTIVE_STATES])));
  if (active) throw new MoveRefused(409, 'move_in_progress', `app ${appId} is being moved already (move ${active.id})`);
  if (await holdsRows(shards.all[to]!, appId)) {
    throw new MoveRefused(409, 'target_not_empty', `shard ${to} holds rows of app ${appId} already; nothing was started`);
  }
  const [move] = await settingsDb
    .insert(shardMoves)
    .values({ appId, fromShard: from, toShard: to, state: 'copying', progress: { copied: {}, deleted: {} }, createdAt: now, updatedAt: now })
    .onConflictDoNothing()
    .returning();
  // A racing request started one between the check and the insert (the partial unique index).
  if (!move) throw new MoveRefused(409, 'move_in_progress', `app ${appId} is being moved already`);
  return move;
}

export async function getMove(settingsDb: Db, id: number): Promise<ShardMoveRow | undefined> {
  const [move] = await settingsDb.select().from(shardMoves).where(eq(shardMoves.id, id));
  return move;
}

export const listMoves = (settingsDb: Db, limit: number): Promise<ShardMoveRow[]> => settingsDb.select().from(shardMoves).orderBy(desc(shardMoves.id)).limit(limit);

/**
 * What moves under way ask of the rest of the cron: their apps' re-derives wait (a re-derive would
 * change rows already copied), and their shards skip retention (the counts compared at the switch
 * must hold still). Both only until the switch, or the end of an abort.
 */
export async function copyingMoves(settingsDb: Db): Promise<{ apps: Set<number>; shards: Set<number> }> {
  const moves = await settingsDb
    .select({ appId: shardMoves.appId, from: shardMoves.fromShard, to: shardMoves.toShard })
    .from(shardMoves)
    .where(inArray(shardMoves.state, ['copying', 'holding', 'aborting']));
  return { apps: new Set(moves.map((m) => m.appId)), shards: new Set(moves.flatMap((m) => [m.from, m.to])) };
}

// --- the cron's part

export interface MoveDeps {
  /** `DB`: the moves, the map, held writes. */
  settingsDb: Db;
  shards: Shards;
  now: () => Date;
  /** Writes held messages as the queue consumer would; per body, undefined once written, else why not. */
  writeHeld: (bodies: readonly unknown[]) => Promise<ReadonlyArray<unknown | undefined>>;
}

export interface MoveBudget {
  /** Slices (each a read on one shard and one batch on another) this run may take. */
  slices: number;
  /** Start nothing new after this time (epoch ms). */
  until: number;
}

/** Advances every move under way, oldest first, within the budget; resolves with the slices taken. */
export async function advanceMoves(deps: MoveDeps, budget: MoveBudget): Promise<number> {
  let slices = 0;
  const failures: unknown[] = [];
  const spend = () => slices < budget.slices && Date.now() < budget.until;
  if (await writeHeldMessages(deps, 100)) slices++;
  const moves = await deps.settingsDb
    .select()
    .from(shardMoves)
    .where(inArray(shardMoves.state, [...ACTIVE_STATES]))
    .orderBy(asc(shardMoves.id));
  for (const move of moves) {
    if (!spend()) break;
    // Another run working on it (a run that started late overlaps the next): left to that one.
    const now = deps.now();
    const leased = await deps.settingsDb
      .update(shardMoves)
      .set({ leasedUntil: new Date(now.getTime() + MOVE_LEASE_MS) })
      .where(and(eq(shardMoves.id, move.id), or(isNull(shardMoves.leasedUntil), lte(shardMoves.leasedUntil, now))))
      .returning({ id: shardMoves.id });
    if (!leased.length) continue;
    // One move failing (a shard unbound under it, D1 unavailable) leaves the others to go on.
    try {
      const mover = new Mover(deps, move);
      try {
        slices += await mover.advance(() => slices + mover.slices < budget.slices && Date.now() < budget.until);
      } finally {
        await mover.save();
      }
    } catch (error) {
      failures.push(error);
      await deps.settingsDb.update(shardMoves).set({ leasedUntil: null }).where(eq(shardMoves.id, move.id));
    }
  }
  if (failures.length) throw new AggregateError(failures, `${failures.length} move(s) could not advance: ${failures.map(String).join('; ')}`);
  return slices;
}

/**
 * Writes kept while their app was held, for apps no longer held (the move switched, or aborted), or
 * for `appId` alone: oldest first, those written leave the table. Resolves with how many were written.
 */
async function writeHeldMessages(deps: Pick<MoveDeps, 'settingsDb' | 'writeHeld'>, limit: number, appId?: number): Promise<number> {
  const held = await deps.settingsDb
    .select({ id: heldMessages.id, body: heldMessages.body })
    .from(heldMessages)
    .where(
      and(
        appId === undefined ? undefined : eq(heldMessages.appId, appId),
        sql`not exists (select 1 from ${appShards} where ${appShards.appId} = ${heldMessages.appId} and ${appShards.heldSince} is not null)`,
      ),
    )
    .orderBy(asc(heldMessages.id))
    .limit(limit);
  if (!held.length) return 0;
  const settled = await deps.writeHeld(held.map((h) => JSON.parse(h.body) as unknown));
  const written = held.filter((_, i) => settled[i] === undefined).map((h) => h.id);
  if (written.length) await deps.settingsDb.delete(heldMessages).where(inArray(heldMessages.id, written));
  return written.length;
}

class Mover {
  slices = 0;
  /** Rows copied or deleted so far in this run. */
  private rows = 0;
  private changed = false;
  private readonly source: Shard;
  private readonly target: Shard;

  constructor(
    private readonly deps: MoveDeps,
    private move: ShardMoveRow,
  ) {
    const shard = (index: number) => {
      const found = deps.shards.all[index];
      if (!found) throw new Error(`move ${move.id}: SHARD_${index} is not bound`);
      return found;
    };
    this.source = shard(move.fromShard);
    this.target = shard(move.toShard);
  }

  private get app() {
    return this.move.appId;
  }

  private note(patch: Partial<MoveProgress>) {
    Object.assign(this.move.progress, patch);
    this.changed = true;
  }

  private count(kind: 'copied' | 'deleted', table: string, n: number) {
    this.rows += n;
    if (!n) return;
    const tally = this.move.progress[kind];
    tally[table] = (tally[table] ?? 0) + n;
    this.changed = true;
  }

  /** What the run did, and the move released for the next run. */
  async save(): Promise<void> {
    const progress = this.changed ? { progress: this.move.progress, updatedAt: this.deps.now() } : {};
    await this.deps.settingsDb
      .update(shardMoves)
      .set({ ...progress, leasedUntil: null })
      .where(eq(shardMoves.id, this.move.id));
    this.changed = false;
  }

  private async enter(state: MoveState, set: Partial<ShardMoveRow> = {}, extra: Stmt[] = []): Promise<void> {
    const now = this.deps.now();
    const db = this.deps.settingsDb as BatchDb;
    const update = db
      .update(shardMoves)
      .set({ ...set, state, progress: this.move.progress, updatedAt: now })
      .where(eq(shardMoves.id, this.move.id));
    // The state and what goes with it (the hold, the map) change together.
    await db.batch([update, ...extra.map((s) => s(db))]);
    this.move = { ...this.move, ...set, state, updatedAt: now };
    this.changed = false;
  }

  /** Works on the move while `more()` allows; resolves with the slices taken. */
  async advance(more: () => boolean): Promise<number> {
    const now = () => this.deps.now().getTime();
    while (more()) {
      const state = this.move.state;
      const before = this.rows;
      // A pass that moved no row and is not done waits for something else (a pending delivery, the
      // postbacks' copy to reach a late copy's postback): the next run tries again.
      const stuck = () => this.rows === before;
      if (state === 'copying') {
        if (await this.blocked()) break;
        const caughtUp = await this.copyPass(more);
        if (!caughtUp) {
          if (stuck()) break;
          continue;
        }
        await this.enter('holding', { heldAt: this.deps.now() }, [(db) => db.update(appShards).set({ heldSince: this.deps.now() }).where(eq(appShards.appId, this.app))]);
      } else if (state === 'holding') {
        if (now() - this.move.heldAt!.getTime() < MOVE_SETTLE_MS) break;
        if (!(await this.copyPass(more))) {
          if (stuck()) break;
          continue;
        }
        const failure = await this.check();
        if (failure) {
          await this.abort(failure);
          continue;
        }
        await this.switchOver();
      } else if (state === 'deleting') {
        if (now() - this.move.switchedAt!.getTime() < MOVE_SETTLE_MS) break;
        if (!(await this.deletePass(this.source, more, true))) {
          if (stuck()) break;
          continue;
        }
        await this.unhide(this.source);
        await this.enter('done', { doneAt: this.deps.now() });
      } else if (state === 'aborting') {
        if (!(await this.deletePass(this.target, more, false))) {
          if (stuck()) break;
          continue;
        }
        await this.unhide(this.target);
        await this.enter('failed', { doneAt: this.deps.now() });
      } else break;
    }
    return this.slices;
  }

  /**
   * A rebuild on either shard, or a re-derive of the app under way on the source, would change rows
   * under the copy: the copy waits for them to end. (Re-derives not yet begun wait for the switch.)
   */
  private async blocked(): Promise<boolean> {
    for (const shard of [this.source, this.target]) {
      const [open] = await shard.db
        .select({ id: maintenanceJobs.id })
        .from(maintenanceJobs)
        .where(
          and(
            isNull(maintenanceJobs.doneAt),
            shard === this.source
              ? sql`(${maintenanceJobs.kind} = 'rebuild' or (${maintenanceJobs.appId} = ${this.app} and ${maintenanceJobs.cursor} > 0))`
              : eq(maintenanceJobs.kind, 'rebuild'),
          ),
        )
        .limit(1);
      if (open) return true;
    }
    return false;
  }

  /**
   * The copy's cursors, read from the target once per run: only this run (it holds the lease) moves
   * them, each in the batch that holds the rows it covers (`advanceOnTarget`).
   */
  private cursors: Map<string, number> | undefined;

  private async cursor(table: string): Promise<number | undefined> {
    this.cursors ??= new Map(
      (await this.target.db.select({ table: moveCursors.tableName, cursor: moveCursors.cursor }).from(moveCursors).where(eq(moveCursors.moveId, this.move.id))).map((r) => [
        r.table,
        r.cursor,
      ]),
    );
    return this.cursors.get(table);
  }

  /** `statements` on the target with the cursors they advance, and the app out of the target's reads, in one batch. */
  private async advanceOnTarget(statements: Stmt[], cursors: Record<string, number>): Promise<void> {
    const moveId = this.move.id;
    await this.onTarget([
      ...statements,
      ...Object.entries(cursors).map(
        ([tableName, cursor]): Stmt =>
          (db) =>
            db
              .insert(moveCursors)
              .values({ moveId, tableName, cursor })
              .onConflictDoUpdate({ target: [moveCursors.moveId, moveCursors.tableName], set: { cursor } }),
      ),
      this.hide,
    ]);
    for (const [table, cursor] of Object.entries(cursors)) this.cursors?.set(table, cursor);
  }

  /** The app left out of a shard's reads. */
  private readonly hide: Stmt = (db) => db.insert(hiddenApps).values({ appId: this.app, moveId: this.move.id }).onConflictDoNothing();

  private async onShard(shard: Shard, statements: Stmt[]): Promise<void> {
    await shard.writer.run((tx) => tx.batch(statements.map((s) => s(tx.db))));
    this.slices++;
  }

  private onTarget(statements: Stmt[]): Promise<void> {
    return this.onShard(this.target, statements);
  }

  /** One slice of every table; true when none had more to copy. */
  private async copyPass(more: () => boolean): Promise<boolean> {
    let caughtUp = true;
    for (const table of RAW) {
      if (!more()) return false;
      if (!(await this.copyRaw(table))) caughtUp = false;
    }
    if (!more()) return false;
    if (!(await this.copyLateCopies())) caughtUp = false;
    for (const table of AGGREGATES) {
      if (!more()) return false;
      if (!(await this.copyAggregate(table))) caughtUp = false;
    }
    return caughtUp;
  }

  /** The next rows of a table with ids; true when it had no more. */
  private async copyRaw(spec: RawTable): Promise<boolean> {
    const after = (await this.cursor(spec.name)) ?? 0;
    const isPostbacks = spec.name === 'postbacks';
    const select = isPostbacks ? `, (select f.body_sha256 from postbacks f where f.id = t.first_id)` : '';
    const rows = await this.source.db.values<Row>(
      sql`select t.id, ${sql.raw(spec.columns.map((c) => `t."${c}"`).join(', '))}${sql.raw(select)} from ${sql.raw(spec.name)} t
        where t.app_id = ${this.app} and t.id > ${after} order by t.id limit ${spec.limit}`,
    );
    if (!rows.length) return true;
    const last = rows.at(-1)![0] as number;
    const statements = insertRows(spec.table, ['#id', ...spec.columns], rows);
    const extras = isPostbacks ? await this.postbackExtras(rows, after, last) : { statements: [], copies: 0, cursors: {} };
    await this.advanceOnTarget([...statements, ...extras.statements], { [spec.name]: last, ...extras.cursors });
    this.count('copied', spec.name, rows.length);
    this.count('copied', 'postback_copies', extras.copies);
    return rows.length < spec.limit;
  }

  /**
   * For a slice of postbacks: their conflicting copies' `first_id` (ids differ on the target, the
   * first row's body hash does not), and their later copies as they stood when the copy began.
   */
  private async postbackExtras(rows: readonly Row[], after: number, last: number): Promise<{ statements: Stmt[]; copies: number; cursors: Record<string, number> }> {
    const sha = 1 + RAW[0]!.columns.indexOf('body_sha256');
    const firsts = rows.filter((r) => r.at(-1) !== null).map((r) => [r[sha], r.at(-1)!]);
    const statements: Stmt[] = [];
    if (firsts.length) {
      const pairs = JSON.stringify(firsts);
      statements.push((db) =>
        db
          .update(postbacks)
          .set({
            firstId: sql`(select f.id from postbacks f where f.body_sha256 =
              (select json_extract(j.value, '$[1]') from json_each(${pairs}) j where json_extract(j.value, '$[0]') = ${postbacks.bodySha256}))`,
          })
          .where(sql`${postbacks.bodySha256} in (select json_extract(value, '$[0]') from json_each(${pairs}))`),
      );
    }
    let since = await this.cursor(LATE_COPIES);
    const cursors: Record<string, number> = {};
    if (since === undefined) {
      // Copies after this one arrive while the copy runs: the late-copies pass takes them in id order.
      const [[newest] = [0]] = await this.source.db.values<[number | null]>(sql`select coalesce(max(id), 0) from postback_copies`);
      since = newest ?? 0;
      cursors[LATE_COPIES] = since;
    }
    const copies = await this.source.db.values<Row>(
      sql`select p.body_sha256, c.channel, c.received_at from postbacks p join postback_copies c on c.postback_id = p.id
        where p.app_id = ${this.app} and p.id > ${after} and p.id <= ${last} and c.id <= ${since} order by c.id`,
    );
    statements.push(...insertCopies(copies));
    return { statements, copies: copies.length, cursors };
  }

  /** Copies that arrived after the copy began, in id order, each once its postback is on the target; true when none is left. */
  private async copyLateCopies(): Promise<boolean> {
    const after = await this.cursor(LATE_COPIES);
    const postbacksDone = await this.cursor('postbacks');
    if (after === undefined || postbacksDone === undefined) return true;
    const rows = await this.source.db.values<Row>(
      sql`select c.id, p.id, p.body_sha256, c.channel, c.received_at from postback_copies c join postbacks p on p.id = c.postback_id
        where c.id > ${after} and p.app_id = ${this.app} order by c.id limit ${ROWS_PER_SLICE}`,
    );
    const ready: Row[] = [];
    for (const row of rows) {
      if ((row[1] as number) > postbacksDone) break;
      ready.push(row);
    }
    if (!ready.length) return rows.length === 0;
    await this.advanceOnTarget(insertCopies(ready.map((r) => r.slice(2))), { [LATE_COPIES]: ready.at(-1)![0] as number });
    this.count('copied', 'postback_copies', ready.length);
    return ready.length === rows.length && rows.length < ROWS_PER_SLICE;
  }

  /** The next whole buckets of an aggregate (a bucket is never split between slices); true when none is left. */
  private async copyAggregate(spec: AggregateTable): Promise<boolean> {
    const from = (await this.cursor(spec.name)) ?? 0;
    const columns = sql.raw(quoted(spec.columns));
    const bucketAt = spec.columns.indexOf('arrival_bucket');
    let rows = await this.source.db.values<Row>(
      sql`select ${columns} from ${sql.raw(spec.name)} where app_id = ${this.app} and arrival_bucket >= ${from} order by arrival_bucket limit ${ROWS_PER_SLICE}`,
    );
    if (!rows.length) return true;
    const full = rows.length === ROWS_PER_SLICE;
    const lastBucket = rows.at(-1)![bucketAt] as number;
    if (full) {
      const whole = rows.filter((r) => r[bucketAt] !== lastBucket);
      // One bucket larger than a slice: taken whole.
      rows = whole.length
        ? whole
        : await this.source.db.values<Row>(sql`select ${columns} from ${sql.raw(spec.name)} where app_id = ${this.app} and arrival_bucket = ${lastBucket}`);
    }
    const next = (rows.at(-1)![bucketAt] as number) + 1;
    await this.advanceOnTarget(insertRows(spec.table, spec.columns, rows), { [spec.name]: next });
    this.count('copied', spec.name, rows.length);
    return !full;
  }

  /**
   * With the app held and the copy caught up: every aggregate bucket compared (sums of every measure
   * and the row count) and those that differ copied again, then the rows of each table counted on both
   * shards. Resolves with why they differ, or undefined when they agree.
   */
  private async check(): Promise<string | undefined> {
    let repaired = 0;
    for (const spec of AGGREGATES) {
      const sums = sql.raw(`json_array(count(*), ${spec.measures.map((m) => `total("${m}")`).join(', ')})`);
      const perBucket = async (shard: Shard) =>
        new Map(
          (await shard.db.values<[number, string]>(sql`select arrival_bucket, ${sums} from ${sql.raw(spec.name)} where app_id = ${this.app} group by arrival_bucket`)).map(
            ([b, s]) => [b, s],
          ),
        );
      const [source, target] = await Promise.all([perBucket(this.source), perBucket(this.target)]);
      const differ = [...new Set([...source.keys(), ...target.keys()])].filter((b) => source.get(b) !== target.get(b));
      for (let i = 0; i < differ.length; i += 200) {
        const buckets = JSON.stringify(differ.slice(i, i + 200));
        const rows = await this.source.db.values<Row>(
          sql`select ${sql.raw(quoted(spec.columns))} from ${sql.raw(spec.name)} where app_id = ${this.app} and arrival_bucket in (select value from json_each(${buckets}))`,
        );
        await this.onTarget([
          (db) => db.delete(spec.table).where(sql`app_id = ${this.app} and arrival_bucket in (select value from json_each(${buckets}))`),
          ...insertRows(spec.table, spec.columns, rows),
        ]);
      }
      repaired += differ.length;
      const after = differ.length ? await perBucket(this.target) : target;
      if (after.size !== source.size || [...source].some(([b, s]) => after.get(b) !== s)) return `${spec.name} differ after copying them again`;
    }
    this.note({ repairedBuckets: repaired });
    const counted = async (shard: Shard) => {
      const [row] = await shard.db.values<number[]>(
        sql`select (select count(*) from postbacks where app_id = ${this.app}),
          (select count(*) from postback_copies c join postbacks p on p.id = c.postback_id where p.app_id = ${this.app}),
          (select count(*) from clicks where app_id = ${this.app}), (select count(*) from mmp_postbacks where app_id = ${this.app})`,
      );
      return row!;
    };
    const [source, target] = await Promise.all([counted(this.source), counted(this.target)]);
    const names = ['postbacks', 'postback_copies', 'clicks', 'mmp_postbacks'];
    const verified = Object.fromEntries(names.map((n, i) => [n, { source: source[i]!, target: target[i]! }]));
    this.note({ verified });
    const off = names.filter((n) => verified[n]!.source !== verified[n]!.target);
    return off.length ? `counts differ: ${off.map((n) => `${n} ${verified[n]!.source} on the source, ${verified[n]!.target} on the target`).join('; ')}` : undefined;
  }

  /**
   * The switch: the uploaded figures copied (they are few, and replaced rather than appended), the
   * source leaves the app out of its reads, the map points at the target and the hold ends, the
   * target reads the app. Between the first and last step a read sees none of the app, never twice.
   */
  private async switchOver(): Promise<void> {
    const figures = await this.source.db.values<Row>(sql`select ${sql.raw(quoted(REPORTED_COLUMNS))} from reported_figures where app_id = ${this.app}`);
    await this.onTarget([(db) => db.delete(reportedFigures).where(eq(reportedFigures.appId, this.app)), ...insertRows(reportedFigures, REPORTED_COLUMNS, figures)]);
    this.count('copied', 'reported_figures', figures.length);
    await this.onShard(this.source, [this.hide]);
    await this.enter('deleting', { switchedAt: this.deps.now() }, [
      (db) => db.update(appShards).set({ shard: this.move.toShard, heldSince: null }).where(eq(appShards.appId, this.app)),
    ]);
    // A re-derive of the app that waited for the move runs where the app now is.
    const waiting = and(isNull(maintenanceJobs.doneAt), eq(maintenanceJobs.kind, 'rederive'), eq(maintenanceJobs.appId, this.app));
    const [rederive] = await this.source.db.select({ id: maintenanceJobs.id }).from(maintenanceJobs).where(waiting).limit(1);
    const createdAt = this.deps.now();
    await this.onTarget([...this.forget, ...(rederive ? [(db: Db) => db.insert(maintenanceJobs).values({ kind: 'rederive', appId: this.app, createdAt })] : [])]);
    if (rederive) await this.source.db.update(maintenanceJobs).set({ doneAt: this.deps.now() }).where(waiting);
    await this.writeHeld();
  }

  /** The writes held meanwhile go where the app now is, rather than at the next cron. */
  private async writeHeld(): Promise<void> {
    let written = 0;
    for (let round = 0; round < 10; round++) {
      const n = await writeHeldMessages(this.deps, 100, this.app);
      written += n;
      // Fewer than asked: none left, or the rest cannot be written yet (the next cron tries again).
      if (n < 100) break;
    }
    this.note({ heldWrites: written });
  }

  private async abort(reason: string): Promise<void> {
    await this.enter('aborting', { error: reason }, [(db) => db.update(appShards).set({ heldSince: null }).where(eq(appShards.appId, this.app))]);
    await this.writeHeld();
  }

  /** The shard reads the app again, and keeps nothing of the move. */
  private readonly forget: Stmt[] = [
    (db) => db.delete(hiddenApps).where(eq(hiddenApps.appId, this.app)),
    (db) => db.delete(moveCursors).where(eq(moveCursors.moveId, this.move.id)),
  ];

  private unhide(shard: Shard): Promise<void> {
    return this.onShard(shard, this.forget);
  }

  /**
   * One round of deletes of the app's rows on `shard`; true once none is left. From the source, rows
   * whose deliveries are pending wait for them, and settled deliveries go to the target first.
   */
  private async deletePass(shard: Shard, more: () => boolean, keepDeliveries: boolean): Promise<boolean> {
    const before = this.rows;
    let empty = true;
    for (const spec of RAW) {
      if (!more()) return false;
      if (!(await this.deleteRaw(shard, spec, keepDeliveries))) empty = false;
    }
    for (const name of [...AGGREGATES.map((a) => a.name), 'reported_figures'] as const) {
      if (!more()) return false;
      const order = name === 'reported_figures' ? 'id' : 'arrival_bucket';
      // Whole buckets (or rows of figures) at a time, one statement: atomic on its own.
      const gone = await shard.db.values<[number]>(
        sql`delete from ${sql.raw(name)} where app_id = ${this.app} and ${sql.raw(order)} <= (select max(${sql.raw(order)}) from
          (select ${sql.raw(order)} from ${sql.raw(name)} where app_id = ${this.app} order by ${sql.raw(order)} limit ${ROWS_PER_SLICE})) returning 1`,
      );
      this.slices++;
      const n = gone.length;
      this.count('deleted', name, n);
      if (n) empty = false;
    }
    if (keepDeliveries && !empty && this.rows === before) {
      // Nothing could go: what is left waits for its deliveries.
      const [[waiting] = [0]] = await shard.db.values<[number]>(
        sql`select count(*) from deliveries where state = 'pending' and (postback_id in (select id from postbacks where app_id = ${this.app})
          or click_row_id in (select id from clicks where app_id = ${this.app}) or mmp_postback_id in (select id from mmp_postbacks where app_id = ${this.app}))`,
      );
      this.note({ pendingDeliveries: waiting });
    } else if (keepDeliveries && empty) this.note({ pendingDeliveries: 0 });
    return empty;
  }

  private async deleteRaw(shard: Shard, spec: RawTable, keepDeliveries: boolean): Promise<boolean> {
    const ref = spec.deliveryRef;
    const rows = await shard.db.values<[number, string]>(
      sql`select t.id, t.${sql.raw(spec.key)} from ${sql.raw(spec.name)} t where t.app_id = ${this.app}
        and not exists (select 1 from deliveries d where d.${sql.raw(ref)} = t.id and d.state = 'pending') order by t.id limit ${spec.limit}`,
    );
    if (!rows.length) return !(await this.anyLeft(shard, spec));
    const ids = JSON.stringify(rows.map((r) => r[0]));
    if (keepDeliveries) {
      // The delivery history goes with the rows: the target's row is found by its key.
      const settled = await shard.db.values<Row>(
        sql`select ${sql.raw(DELIVERY_COLUMNS.map((c) => `d."${c}"`).join(', '))}, t.${sql.raw(spec.key)} from deliveries d join ${sql.raw(spec.name)} t on t.id = d.${sql.raw(ref)}
          where d.${sql.raw(ref)} in (select value from json_each(${ids}))`,
      );
      if (settled.length) {
        const target = `(select r.id from ${spec.name} r where r.${spec.key} = json_extract(value, '$[${DELIVERY_COLUMNS.length}]'))`;
        await this.onTarget(insertRows(deliveries, [...DELIVERY_COLUMNS, '#key'], settled, { [ref]: target }, `${target} is not null`));
        this.count('copied', 'deliveries', settled.length);
      }
    }
    const listed = sql`(select value from json_each(${ids}))`;
    await this.onShard(shard, [
      (db) => db.delete(deliveries).where(sql`${sql.raw(ref)} in ${listed}`),
      ...(spec.name === 'postbacks' ? [(db: Db) => db.delete(postbackCopies).where(sql`${postbackCopies.postbackId} in ${listed}`)] : []),
      (db) => db.delete(spec.table).where(sql`id in ${listed}`),
    ]);
    this.count('deleted', spec.name, rows.length);
    return false;
  }

  private async anyLeft(shard: Shard, spec: RawTable): Promise<boolean> {
    const [row] = await shard.db.values<[number]>(sql`select exists (select 1 from ${sql.raw(spec.name)} where app_id = ${this.app})`);
    return row?.[0] === 1;
  }
}

/** A statement of a batch, made on the database that runs it. */
type Stmt = (db: Db) => BatchItem<'sqlite'>;
type BatchDb = Db & { batch(items: readonly [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]): Promise<unknown[]> };

/**
 * Rows (JSON arrays whose positions `layout` names) into `table`. drizzle's insert … select names
 * every column in order: those the rows lack are null (ids: the target numbers its own), `computed`
 * ones are SQL over the row (`value`).
 */
function insertRows(table: SQLiteTable, layout: readonly string[], rows: readonly Row[], computed: Record<string, string> = {}, where = 'true'): Stmt[] {
  const values = columnsOf(table)
    .map((c) => computed[c] ?? (layout.includes(c) ? `json_extract(value, '$[${layout.indexOf(c)}]')` : 'null'))
    .join(', ');
  return jsonChunks(rows).map(
    (json) => (db) =>
      db
        .insert(table)
        .select(sql`select ${sql.raw(values)} from json_each(${json}) where ${sql.raw(where)}`)
        .onConflictDoNothing(),
  );
}

/** Later copies ([body hash of their postback, channel, received_at]) onto the target's postbacks. */
const insertCopies = (rows: readonly Row[]): Stmt[] =>
  insertRows(
    postbackCopies,
    ['#sha', 'channel', 'received_at'],
    rows,
    { postback_id: `(select p.id from postbacks p where p.body_sha256 = json_extract(value, '$[0]'))` },
    `exists (select 1 from postbacks p where p.body_sha256 = json_extract(value, '$[0]'))`,
  );
