import type { Redis } from 'ioredis';
import type { InvocationJob, InvocationReply } from './invocation-job';

/** Sends a sync invocation's reply to its caller; a no-op for async jobs (no reply address). */
export async function publishReply(redis: Redis, job: InvocationJob, reply: InvocationReply): Promise<void> {
  if (!job.r) return;
  await redis.publish(job.r, JSON.stringify(reply));
}
