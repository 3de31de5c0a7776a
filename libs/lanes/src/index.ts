export { DEFAULT_QUEUE_PREFIX, idempotencyKey, laneQueueName, rateLimitKey, replyChannel } from './queue-keys';
export type { InvocationJob, InvocationReply, InvocationResult } from './invocation-job';
export {
  LaneClient,
  type LaneClientOptions,
  type InvokeRequest,
  type InvokeAsyncRequest,
  type AsyncJobInfo,
} from './lane-client';
export { ReplyPublisher } from './reply-publisher';
