// The baseline's worker process: a plain BullMQ Worker (concurrency 100), as a user of raw BullMQ would
// write it. Modes: "echo" returns the job data (for waitUntilFinished); "count" prints a line when it
// has processed the given number of jobs.
//   tsx baseline-worker.ts PREFIX QUEUE MODE [COUNT]
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [prefix, queue, mode, countArg] = process.argv.slice(2);
const target = Number(countArg ?? 0);
let processed = 0;
const connection = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const worker = new Worker(
  queue!,
  async (job) => {
    if (mode === 'count' && ++processed === target) process.stdout.write(`done ${processed}\n`);
    return mode === 'echo' ? job.data : undefined;
  },
  { connection, prefix: prefix!, concurrency: 100 },
);
void worker.waitUntilReady().then(() => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
