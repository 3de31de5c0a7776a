// Drill redis-restart (issue 20): three servers and their control plane on a Redis of the drill's own
// (AOF on); under a steady load of sync channel GETs and async channel POSTs (all through HAProxy),
// with a backlog of async jobs queued, that Redis is shut down and started again on the same port and
// dir. Proves: sync GETs go on (0 failed), async calls during the gap are refused with 503 (counted
// as refused, not failed), and every job accepted before or after the restart runs (0 lost).
//   npm run drill -- redis-restart [--short]
import { DrillCluster } from '../lib/cluster';
import { JobTracker } from '../lib/jobs';
import { SteadyLoad, sleep } from '../lib/load';
import { OwnRedis } from '../lib/own-redis';
import { runDrill, short } from '../lib/report';

const BEFORE_MS = short ? 1_500 : 10_000;
const GAP_MS = short ? 1_500 : 10_000;
const AFTER_MS = short ? 1_500 : 10_000;
const JOB_EVERY_MS = 30;
const JOB_SERVICE_MS = 200;
// Two jobs at once per server (30 a second for three) against about 33 submitted a second, plus a
// burst just before the shutdown: a backlog is queued when Redis goes away.
const JOB_CONCURRENCY = 2;
const BURST = 100;

void runDrill('redis-restart', (short ? 60 : 180) * 1000, async (cleanup, lines) => {
  const redis = await OwnRedis.start(cleanup);
  const c = await DrillCluster.start(
    // The default job lock (30 s), longer than the gap: with a lock shorter than the gap, jobs held
    // during it are taken as stalled, run again, and after a second stall moved to failed ("job
    // stalled more than allowable limit") although they ran.
    { servers: 3, redisUrl: redis.url, jobConcurrency: JOB_CONCURRENCY },
    cleanup,
  );
  const jobs = new JobTracker(c.api, c.cluster, c.runsKey);
  cleanup.add('close the job tracker', () => jobs.close());
  const jobUrl = `http://127.0.0.1:${c.haproxy.port}/job`;
  const load = new SteadyLoad(`http://127.0.0.1:${c.haproxy.port}/who`);
  const submitter = jobs.submitEvery(JOB_EVERY_MS, () => jobs.viaChannel(jobUrl, { ms: JOB_SERVICE_MS }));
  const started = Date.now();
  await sleep(BEFORE_MS);
  await Promise.all(Array.from({ length: BURST }, () => jobs.viaChannel(jobUrl, { ms: JOB_SERVICE_MS })));
  const acceptedBefore = [...jobs.ids];
  const runsBefore = Object.keys(await jobs.runs()).length;
  const refusedBefore = jobs.refused;
  const downAt = Date.now();
  await redis.shutdown();
  lines.push(`Redis shut down (SHUTDOWN, AOF) with ${acceptedBefore.length} jobs accepted and ${runsBefore} of them run; ${acceptedBefore.length - runsBefore} queued or running`);
  await sleep(GAP_MS);
  await redis.startAgain();
  const upAt = Date.now();
  lines.push(`Redis started again on the same port and dir after ${upAt - downAt} ms`);
  const refusedInGap = jobs.refused - refusedBefore;
  await sleep(AFTER_MS);
  await submitter.stop();
  const result = await load.stop();
  const loadSeconds = Math.round((Date.now() - started) / 1000);
  while (jobs.sent > jobs.ids.length + jobs.failed + jobs.refused) await sleep(50);
  const before = new Set(acceptedBefore);
  const acceptedAfter = jobs.ids.filter((id) => !before.has(id)).length;
  const jobResult = await jobs.verify(30_000);
  lines.push(`sync channel GETs through HAProxy over ${loadSeconds} s: ${result.sent} sent, ${result.ok} ok, ${result.failed} failed`);
  for (const f of result.failures) lines.push(`  failed GET at ${f.at - downAt} ms from the shutdown: ${f.status} ${f.detail}`);
  lines.push(
    `async channel POSTs: ${jobResult.sent} sent, ${jobResult.accepted} accepted (${acceptedBefore.length} before the shutdown, ${acceptedAfter} after), ` +
      `${jobResult.refused} refused with 503 (${refusedInGap} during the gap), ${jobResult.failed} failed; ${jobResult.lost} lost, ${jobResult.duplicates} run twice`,
  );
  for (const f of jobs.failures) lines.push(`  failed call: ${f}`);
  for (const why of jobResult.lostWhy.slice(0, 10)) lines.push(`  lost: ${why}`);
  if (acceptedBefore.length - runsBefore === 0) throw new Error('no job was queued when Redis went away: the drill proved nothing about losses');
  if (refusedInGap === 0) throw new Error('no async call was refused during the gap: the drill proved nothing about it');
  return {
    sent: result.sent + jobResult.sent,
    ok: result.ok + jobResult.accepted - jobResult.lost,
    failed: result.failed + jobResult.failed,
    lost: jobResult.lost,
    duplicates: jobResult.duplicates,
  };
});

