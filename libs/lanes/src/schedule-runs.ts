import type { RedisClient } from './create-redis';
import { scheduleKeys } from './queue-keys';

/** One tick's run as recorded when it reached its final outcome. */
export interface ScheduleRunRecord {
  jobId: string;
  /** Epoch ms when the tick was due (for a manual run, when it was asked for). */
  scheduledAt: number;
  /** Epoch ms when its last attempt started. */
  startedAt: number;
  server: string;
  outcome: 'ok' | 'failed' | 'skipped';
  durationMs: number;
  /** Attempts started, a take-over after a server died included. */
  attempt: number;
  error?: string;
  manual?: boolean;
}

/** Runs kept per schedule (the oldest go first). */
export const SCHEDULE_RUNS_KEPT = 1000;
// A schedule deleted while a run was under way may get that run recorded after its keys were removed:
// they expire on their own.
const RUNS_TTL_MS = 30 * 24 * 3600_000;

// Idempotent per job id: a run recorded twice (its server died after recording, before BullMQ knew it
// was done) is still one run.
const RECORD = `
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`;

// Taken when free or already ours (a retry of the same run, or a run taken over from a dead server).
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Records a run (the same job id twice keeps one entry). */
export async function recordScheduleRun(redis: RedisClient, prefix: string, cluster: string, schedule: string, run: ScheduleRunRecord): Promise<void> {
  const keys = scheduleKeys(prefix, cluster, schedule);
  await redis.eval(RECORD, 2, keys.runs, keys.run, run.jobId, run.scheduledAt, JSON.stringify(run), SCHEDULE_RUNS_KEPT, RUNS_TTL_MS);
}

/** The last `limit` runs of a schedule, newest first. */
export async function listScheduleRuns(redis: RedisClient, prefix: string, cluster: string, schedule: string, limit: number): Promise<ScheduleRunRecord[]> {
  const keys = scheduleKeys(prefix, cluster, schedule);
  const ids = await redis.zrevrange(keys.runs, 0, Math.max(1, limit) - 1);
  if (!ids.length) return [];
  const values = await redis.hmget(keys.run, ...ids);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ScheduleRunRecord);
}

/** Forgets a schedule's runs and its lock (DeleteSchedule). */
export async function clearScheduleRuns(redis: RedisClient, prefix: string, cluster: string, schedule: string): Promise<void> {
  const keys = scheduleKeys(prefix, cluster, schedule);
  await redis.del(keys.runs, keys.run, keys.lock);
}

/** Takes (or renews) the schedule's overlap lock for `holder` (a job id); false while another run holds it. */
export async function acquireScheduleLock(redis: RedisClient, prefix: string, cluster: string, schedule: string, holder: string, ttlMs: number): Promise<boolean> {
  return (await redis.eval(ACQUIRE, 1, scheduleKeys(prefix, cluster, schedule).lock, holder, ttlMs)) === 1;
}

export async function releaseScheduleLock(redis: RedisClient, prefix: string, cluster: string, schedule: string, holder: string): Promise<void> {
  await redis.eval(RELEASE, 1, scheduleKeys(prefix, cluster, schedule).lock, holder);
}
