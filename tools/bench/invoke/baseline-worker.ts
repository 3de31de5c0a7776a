// The baseline's worker process: a plain BullMQ Worker (concurrency 100), as a user of raw BullMQ would
// write it. Modes: "echo" returns the job data (for waitUntilFinished); "count" prints a line when it
// has processed the given number of jobs; "reply" answers a Laneway sync job (its `r` channel and `c`
// correlation id) with one PUBLISH of the reply and nothing else: no service registry, invoker,
// metrics or Laneway loop, the least a server can do per sync call over BullMQ.
//   tsx baseline-worker.ts PREFIX QUEUE MODE [COUNT]
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { InvocationJob, InvocationReply } from '@laneway/lanes';

const [prefix, queue, mode, countArg] = process.argv.slice(2);
const target = Number(countArg ?? 0);
let processed = 0;
const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const connection = new Redis(url, { maxRetriesPerRequest: null });
const publisher = mode === 'reply' ? new Redis(url) : undefined;
const worker = new Worker(
  queue!,
  async (job) => {
    if (mode === 'count' && ++processed === target) process.stdout.write(`done ${processed}\n`);
    if (publisher) {
      // Typed as the servers' replies, so that a change to their shape shows here too.
      const data = job.data as InvocationJob;
      const reply: InvocationReply = { c: data.c!, ok: true, o: data.i, srv: 'floor', v: 'floor' };
      await publisher.publish(data.r!, JSON.stringify(reply));
      return undefined;
    }
    return mode === 'echo' ? job.data : undefined;
  },
  { connection, prefix: prefix!, concurrency: 100 },
);
void worker.waitUntilReady().then(() => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
