import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { laneQueueName, publishReply, type InvocationJob } from '@laneway/lanes';
import type { ServiceLane } from '@laneway/sdk';
import type { Logger } from 'pino';
import type { Invoker } from './invoker';

export interface LaneWorkersOptions {
  cluster: string;
  prefix: string;
  connection: Redis;
  /** Used to publish replies; a plain (non-blocking) connection. */
  publisher: Redis;
  invoker: Invoker;
  networkConcurrency: number;
  cpuConcurrency: number;
  logger: Logger;
}

/** The BullMQ consumers of the cluster's two lane queues (competing consumers across servers). */
export class LaneWorkers {
  private readonly workers: Worker<InvocationJob>[] = [];

  constructor(private readonly options: LaneWorkersOptions) {}

  start(): void {
    this.workers.push(this.worker('network', this.options.networkConcurrency));
    // The CPU-lane worker runs on the main thread too, so its lock renewals never wait behind CPU
    // work; it only hands jobs to the thread pool. Its concurrency matches the pool size.
    this.workers.push(this.worker('cpu', this.options.cpuConcurrency));
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and waits for the in-flight ones. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private worker(lane: ServiceLane, concurrency: number): Worker<InvocationJob> {
    const { invoker, publisher, logger } = this.options;
    const log = logger.child({ lane });
    const worker = new Worker<InvocationJob>(
      laneQueueName(this.options.cluster, lane),
      async (job) => {
        const data = job.data;
        // The caller gave up already: running the job would only waste the lane.
        if (data.d !== undefined && data.d < Date.now()) return undefined;
        const reply = await invoker.run(data);
        if (data.r) {
          await publishReply(publisher, data, reply);
          return undefined;
        }
        // Async invocation: a failure is thrown so that BullMQ retries it with backoff and, after the
        // last attempt, keeps it as a failed job.
        if (!reply.ok) throw new Error(reply.e.message);
        return reply.o;
      },
      { connection: this.options.connection, prefix: this.options.prefix, concurrency },
    );
    worker.on('error', (err) => log.error({ err }, 'lane worker error'));
    worker.on('failed', (job, err) => {
      if (job && !job.data.r) log.warn({ service: job.data.s, jobId: job.id, attempt: job.attemptsMade, err: err.message }, 'async job failed');
    });
    return worker;
  }
}
