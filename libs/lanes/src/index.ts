export { carryOverLegacyQueues, legacyLaneQueueName, legacyScheduleKeys, watchLegacyQueues, type CarryOverOptions, type LaneCarryOver } from './legacy-queues';
export { DEFAULT_QUEUE_PREFIX, idempotencyKey, laneQueueName, rateLimitKey, replyChannel, scheduleKeys, scheduleSchedulerId } from './queue-keys';
export { createRedis, redisSettingsOf, type CreateRedisOptions, type RedisClient } from './create-redis';
export { DEFAULT_REDIS_URL, redisSettingsFromEnv, redisVariable, type RedisNode, type RedisSettings, type WaitReplicas } from './redis-settings';
export type { InvocationFailure, InvocationJob, InvocationReply, InvocationResult, ScheduleMark } from './invocation-job';
export {
  LaneClient,
  type LaneClientOptions,
  type InvokeRequest,
  type InvokeAsyncRequest,
  type AsyncJobInfo,
} from './lane-client';
export { ReplyPublisher } from './reply-publisher';
export { UnconfirmedEnqueueError } from './unconfirmed-enqueue-error';
export { ScheduleQueues, schedulerMatches, type FoundScheduler, type ScheduleTiming, type ScheduledInvocation } from './schedule-queues';
export {
  acquireScheduleLock,
  clearScheduleRuns,
  listScheduleRuns,
  recordScheduleRun,
  releaseScheduleLock,
  SCHEDULE_RUNS_KEPT,
  type ScheduleRunRecord,
} from './schedule-runs';
export {
  startThreadTracing,
  startTracing,
  tracing,
  tracingRequested,
  TRACER_NAME,
  type StartTracingOptions,
  type ThreadSpan,
  type TraceApi,
  type Tracing,
} from './tracing';
