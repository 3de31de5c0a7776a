import { Queue, type JobsOptions } from 'bullmq';
import { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { ServiceLane } from '@laneway/sdk';
import type { RedisClient } from './create-redis';
import { laneQueueName, scheduleKeys, scheduleSchedulerId } from './queue-keys';

// Before the Cluster-safe key names (commit b5b940a) a lane queue was `<cluster>.<lane>` and a
// schedule's run keys `<prefix>:sched:<cluster>:<schedule>:*`. A site upgraded with jobs waiting in
// the old queues would strand them (no worker reads the old names): this carries them over once.
//
// What is carried, per lane: jobs waiting, paused, prioritized and delayed (a retry's backoff too) are
// re-added to the new queue with their id, name, data, options, creation time and due time; the
// attempts they already made are taken off `attempts` (the new job starts at attempt 1, so a job never
// runs more often than its policy allows). Failed jobs (the dead letters) are moved as they are, still
// failed, with their reason and attempts: their hash is renamed and they join the new failed set.
// Active jobs whose lock is held run on a server of the old version and are left to it (a later round
// carries whatever it retries); an active job whose lock expired stalled on a server that died, and is
// carried like a waiting one, since no worker is left on the old queue to put it back. Completed jobs
// are left. The old queue's job schedulers are removed with their next tick (the control plane made
// new ones on the new queues, which run the next tick), and their run history is renamed.

const LANES: readonly ServiceLane[] = ['network', 'cpu'];
const SCHEDULE_PREFIX = scheduleSchedulerId('');
/** Jobs read from one state at a time. */
const PAGE = 200;
/** One carry-over of a lane at a time; another server (or a crashed one's lock) waits this long. */
const LOCK_MS = 5 * 60_000;

/** The name a lane queue had before commit b5b940a (no hash tag). */
export function legacyLaneQueueName(cluster: string, lane: ServiceLane): string {
  return `${cluster}.${lane}`;
}

/** The keys of a schedule's runs before commit b5b940a (no hash tag). */
export function legacyScheduleKeys(prefix: string, cluster: string, schedule: string): { runs: string; run: string } {
  const base = `${prefix}:sched:${cluster}:${schedule}`;
  return { runs: `${base}:runs`, run: `${base}:run` };
}

/** What one lane's carry-over did. */
export interface LaneCarryOver {
  lane: ServiceLane;
  /** Jobs re-added to the new queue (waiting, paused, prioritized, delayed). */
  carried: number;
  /** Failed jobs moved, still failed, to the new queue's failed set. */
  failedMoved: number;
  /** Failed jobs left in the old queue because the new one holds a job with their id. */
  failedLeft: number;
  /** Old job schedulers removed (with their next tick). */
  schedulersRemoved: number;
  /** Schedules whose run history was renamed to the new keys. */
  historiesRenamed: number;
}

export interface CarryOverOptions {
  redis: RedisClient;
  prefix: string;
  cluster: string;
  /** Told one line per lane where anything was carried (pino-compatible). */
  logger?: { info(fields: object, message: string): void };
}

/**
 * Carries over now and then every `everyMs` (an old server still running may finish, retry or drop
 * jobs after this one started); a failed round is logged and tried again next time. Returns the stop,
 * which waits for a round under way.
 */
export function watchLegacyQueues(
  options: CarryOverOptions & { logger: { info(fields: object, message: string): void; warn(fields: object, message: string): void } },
  everyMs = 60_000,
): () => Promise<void> {
  let round: Promise<unknown> = Promise.resolve();
  const carry = () => {
    round = round.then(() => carryOverLegacyQueues(options)).catch((err: unknown) => options.logger.warn({ err }, 'carrying jobs over from the old-named lane queues failed; retried later'));
  };
  carry();
  const timer = setInterval(carry, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await round;
  };
}

/**
 * Carries the jobs of the cluster's old-named lane queues (before commit b5b940a) into the new ones;
 * see the top of this file. Cheap when there is nothing: one EXISTS per lane. Idempotent and safe to
 * run from several servers at once: one holds a lane at a time, each job is taken from its old state
 * by one atomic script (an old server cannot take it at the same moment), and the new queue ignores
 * an add with an id it holds. A Redis Cluster is skipped: the old names were never used on one (before
 * b5b940a Laneway spoke to one Redis only), and their keys, without a hash tag, could not be moved there.
 */
export async function carryOverLegacyQueues(options: CarryOverOptions): Promise<LaneCarryOver[]> {
  if (options.redis instanceof Cluster) return [];
  const done: LaneCarryOver[] = [];
  for (const lane of LANES) {
    const result = await carryOverLane(options, lane);
    if (!result) continue;
    done.push(result);
    // Failed jobs left behind (an id the new queue holds too) alone do not repeat the line every round.
    if (result.carried || result.failedMoved || result.schedulersRemoved || result.historiesRenamed) {
      options.logger?.info(
        { ...result, cluster: options.cluster, from: legacyLaneQueueName(options.cluster, lane), to: laneQueueName(options.cluster, lane) },
        'carried jobs over from the old-named lane queue',
      );
    }
  }
  return done;
}

async function carryOverLane(options: CarryOverOptions, lane: ServiceLane): Promise<LaneCarryOver | undefined> {
  const { redis, prefix, cluster } = options;
  const oldName = legacyLaneQueueName(cluster, lane);
  const oldKey = (suffix: string) => `${prefix}:${oldName}:${suffix}`;
  // Empty lists and sets do not exist in Redis: nothing to carry unless one of these does.
  const states = ['wait', 'paused', 'prioritized', 'delayed', 'active', 'failed', 'repeat', 'carrying'].map(oldKey);
  if ((await redis.exists(...states)) === 0) return undefined;

  const lockKey = oldKey('carry-over');
  const token = randomBytes(8).toString('hex');
  if ((await redis.set(lockKey, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return undefined;
  const old = new Queue(oldName, { connection: redis, prefix });
  const fresh = new Queue(laneQueueName(cluster, lane), { connection: redis, prefix });
  const result: LaneCarryOver = { lane, carried: 0, failedMoved: 0, failedLeft: 0, schedulersRemoved: 0, historiesRenamed: 0 };
  try {
    // Schedulers first: removing one removes its next tick (a delayed job), which must not be carried.
    for (const scheduler of await old.getJobSchedulers(0, -1)) {
      const id = scheduler.id ?? scheduler.key;
      if (id.startsWith(SCHEDULE_PREFIX) && (await renameHistory(redis, prefix, cluster, id.slice(SCHEDULE_PREFIX.length)))) result.historiesRenamed++;
      await old.removeJobScheduler(id);
      result.schedulersRemoved++;
    }
    // Jobs a carry-over took and did not add (it stopped half-way) first.
    result.carried += await addClaimed(redis, old, fresh, oldKey('carrying'));
    for (const state of ['active', 'wait', 'paused', 'prioritized', 'delayed'] as const) {
      for (;;) {
        // A list's oldest job is at its tail: carried first, it stays first in the new queue. Active jobs
        // (as many as the old servers run at once) are looked at in one pass: most are locked and stay.
        const ids =
          state === 'active'
            ? await redis.lrange(oldKey(state), 0, -1)
            : state === 'wait' || state === 'paused'
              ? (await redis.lrange(oldKey(state), -PAGE, -1)).reverse()
              : await redis.zrange(oldKey(state), 0, PAGE - 1);
        if (!ids.length) break;
        let claimed = 0;
        for (const id of ids) {
          const kind = state !== 'delayed' ? '' : id.startsWith('repeat:') ? 'tick' : 'delayed';
          const list = state === 'wait' || state === 'paused' || state === 'active';
          claimed += Number(await redis.eval(CLAIM, 3, oldKey(state), oldKey('carrying'), `${old.toKey(id)}:lock`, id, list ? 'list' : 'zset', kind));
        }
        result.carried += await addClaimed(redis, old, fresh, oldKey('carrying'));
        // Nothing taken from a whole page: an old server is taking them as fast; the next round carries the rest.
        if (!claimed || state === 'active') break;
      }
    }
    for (;;) {
      const ids = await redis.zrange(oldKey('failed'), 0, PAGE - 1);
      let moved = 0;
      for (const id of ids) {
        const outcome = Number(await redis.eval(MOVE_FAILED, 4, oldKey('failed'), fresh.keys.failed!, oldKey(id), fresh.toKey(id), id));
        if (outcome === 1) moved++;
      }
      result.failedMoved += moved;
      if (!moved) break;
    }
    result.failedLeft = await redis.zcard(oldKey('failed'));
  } finally {
    await redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
    await Promise.all([old.close(), fresh.close()]);
  }
  return result;
}

/** Adds every job in the `carrying` hash (id -> its old delayed score, or '') to the new queue, then deletes its old keys. */
async function addClaimed(redis: RedisClient, old: Queue, fresh: Queue, carryingKey: string): Promise<number> {
  const claimed = await redis.hgetall(carryingKey);
  let added = 0;
  for (const [id, score] of Object.entries(claimed)) {
    const job = await old.getJob(id);
    // A scheduler's tick (delayed, marked 'tick'): its new scheduler makes its own; dropped.
    if (job && score !== 'tick') {
      const { repeat: _repeat, jobId: _jobId, delay: _delay, timestamp: _timestamp, ...opts } = job.opts as JobsOptions & { repeat?: unknown };
      const due = score ? Math.floor(Number(score) / 0x1000) : 0;
      const attempts = opts.attempts === undefined ? undefined : Math.max(1, opts.attempts - job.attemptsMade);
      // BullMQ makes a job due at timestamp + delay: the old due time is kept.
      await fresh.add(job.name, job.data, { ...opts, attempts, jobId: id, timestamp: job.timestamp, delay: due ? Math.max(0, due - job.timestamp) : 0 });
      added++;
    }
    const jobKey = old.toKey(id);
    await redis.multi().del(jobKey, `${jobKey}:logs`).hdel(carryingKey, id).exec();
  }
  return added;
}

async function renameHistory(redis: RedisClient, prefix: string, cluster: string, schedule: string): Promise<boolean> {
  const from = legacyScheduleKeys(prefix, cluster, schedule);
  const to = scheduleKeys(prefix, cluster, schedule);
  // Best effort: history already under the new keys (recorded since the upgrade) is kept, the old dropped.
  const renamed = await redis.eval(RENAME_HISTORY, 4, from.runs, from.run, to.runs, to.run);
  return renamed === 1;
}

// Takes a job out of its old state (atomically, so an old server's worker cannot take it too) into the
// `carrying` hash, with its delayed score (its due time), or 'tick' for a scheduler's next tick. Returns
// 1 when taken, 0 when gone already or locked: an active job whose lock is held runs on an old server;
// one whose lock expired stalled there (the server died) and, with no worker left on the old queue to
// put it back, is carried like a waiting one.
const CLAIM = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local score = ''
if ARGV[2] == 'list' then
  if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
else
  local found = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not found then return 0 end
  redis.call('ZREM', KEYS[1], ARGV[1])
  if ARGV[3] == 'tick' then score = 'tick' elseif ARGV[3] == 'delayed' then score = found end
end
redis.call('HSET', KEYS[2], ARGV[1], score)
return 1
`;

// KEYS: old failed set, new failed set, old job key, new job key. 1 moved, 0 gone already, -1 the new
// queue holds that id (left where it is).
const MOVE_FAILED = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RENAME', KEYS[3], KEYS[4]) end
if redis.call('EXISTS', KEYS[3] .. ':logs') == 1 then redis.call('RENAME', KEYS[3] .. ':logs', KEYS[4] .. ':logs') end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], score, ARGV[1])
return 1
`;

const RENAME_HISTORY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4]) end
return 1
`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
