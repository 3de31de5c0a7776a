export const WHO_SERVICE = 'drill.who';
export const JOB_SERVICE = 'drill.job';

/**
 * The drill's services: `drill.who` answers the server that ran it (the steady load's GET channel);
 * `drill.job` (the async jobs) counts its runs per invocation id in a Redis hash (and notes in two more
 * which server started and which finished each), so a drill measures
 * losses (an id never run) and duplicates (an id run twice) instead of assuming them. Its Redis is
 * REDIS_URL, never a Redis the drill restarts. `jobConcurrency`: at most that many jobs run at once
 * per server (a backlog builds up behind them).
 */
export function drillServices(recordRedisUrl: string, runsKey: string, jobConcurrency = 0): { path: string; content: string }[] {
  const header = `
const { defineService } = require('@laneway/sdk');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
`;
  return [
    {
      path: 'drill/who.js',
      content: `${header}
exports.default = defineService({
  name: '${WHO_SERVICE}',
  async handle(input, ctx) {
    if (input && input.ms) await sleep(Number(input.ms));
    return { server: ctx.server };
  },
});
`,
    },
    {
      path: 'drill/job.js',
      content: `${header}
const { Redis } = require('ioredis');
let client;
exports.default = defineService({
  name: '${JOB_SERVICE}',${jobConcurrency ? `
  concurrency: ${jobConcurrency},` : ''}
  async handle(input, ctx) {
    client = client || new Redis(${JSON.stringify(recordRedisUrl)}, { maxRetriesPerRequest: 3 });
    await client.hset(${JSON.stringify(`${runsKey}:started`)}, ctx.invocationId, ctx.server);
    await sleep(Number((input && input.ms) || 100));
    await client.multi().hincrby(${JSON.stringify(runsKey)}, ctx.invocationId, 1).hset(${JSON.stringify(`${runsKey}:by`)}, ctx.invocationId, ctx.server).exec();
    return { id: ctx.invocationId };
  },
});
`,
    },
  ];
}
