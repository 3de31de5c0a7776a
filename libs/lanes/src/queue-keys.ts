import type { ServiceLane } from '@laneway/sdk';

// Every Redis key and queue name Laneway uses is built here, so that a prefix isolates a whole
// deployment (or a test run) and the control plane and the servers can never disagree.
//
// Redis Cluster: keys that one Lua script or MULTI touches together must share a hash slot, so they
// share a hash tag (the first `{...}` in a key). Every key of one lane queue carries the queue's name
// in braces (BullMQ's keys are `prefix:queue:suffix`, hence `laneway:{cluster.network}:wait`): one
// queue lives on one node and the cluster's queues spread over the nodes. A schedule's run keys share
// a tag of their own; the rate-limit and idempotency keys are each used alone. The prefix itself
// holds no brace (LANEWAY_QUEUE_PREFIX allows letters, digits, - and _), so the tag is always ours.

/** The BullMQ prefix used when `LANEWAY_QUEUE_PREFIX` is not set. */
export const DEFAULT_QUEUE_PREFIX = 'laneway';

/**
 * The BullMQ queue of one lane of one cluster; every server of the cluster consumes it. In braces: the
 * hash tag that keeps all of the queue's keys in one Redis Cluster slot.
 */
export function laneQueueName(cluster: string, lane: ServiceLane): string {
  // BullMQ forbids ':' in queue names; cluster names cannot contain one either.
  return `{${cluster}.${lane}}`;
}

/**
 * The pub/sub channel on which one caller process receives its sync-invoke replies. A channel is no
 * key: in a Redis Cluster a PUBLISH reaches subscribers on every node.
 */
export function replyChannel(prefix: string, callerId: string): string {
  return `${prefix}:reply:${callerId}`;
}

/**
 * The counter of one channel's requests from one caller (a credential, or a client address on a
 * public channel) in one second of the clock: every server of the cluster counts in the same key.
 */
export function rateLimitKey(prefix: string, cluster: string, channel: string, caller: string, second: number): string {
  return `${prefix}:rl:${cluster}:${channel}:${caller}:${second}`;
}

/** Where an async channel remembers, for 24 hours, the job id a client's Idempotency-Key got. */
export function idempotencyKey(prefix: string, cluster: string, channel: string, digest: string): string {
  return `${prefix}:idem:${cluster}:${channel}:${digest}`;
}

/** The BullMQ job scheduler of one schedule, on its service's lane queue (one per cluster and lane). */
export function scheduleSchedulerId(schedule: string): string {
  return `schedule.${schedule}`;
}

/**
 * The keys of one schedule's runs: `runs` (sorted set of job ids by the time they were due), `run`
 * (hash: job id -> the run as JSON) and `lock` (held by the run under way, for overlap SKIP).
 */
export function scheduleKeys(prefix: string, cluster: string, schedule: string): { runs: string; run: string; lock: string } {
  // One hash tag for the three: a run is recorded in `runs` and `run` by one script, and a deleted
  // schedule's keys go in one DEL.
  const base = `${prefix}:sched:{${cluster}:${schedule}}`;
  return { runs: `${base}:runs`, run: `${base}:run`, lock: `${base}:lock` };
}
