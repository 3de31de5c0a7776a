// Drill server-kill (issue 20): three servers behind HAProxy; `kill -9` one under a steady load of
// channel GETs and async jobs. Proves: 0 failed requests (HAProxy retries idempotent GETs on another
// server) and 0 lost jobs (the jobs the dead server held are taken over by another once their lock
// expires); runs beyond the first are counted as duplicates (at-least-once).
//   npm run drill -- server-kill [--short]
import { DrillCluster } from '../lib/cluster';
import { JobTracker } from '../lib/jobs';
import { SteadyLoad, sleep } from '../lib/load';
import { runDrill, short } from '../lib/report';
import { JOB_SERVICE } from '../lib/services';

const LOAD_MS = short ? 4_000 : 30_000;
const KILL_AT_MS = short ? 1_500 : 10_000;
// How long a dead server's job stays locked before another takes it over (30 s by default).
const JOB_LOCK_MS = short ? 2_000 : 30_000;
const JOB_EVERY_MS = 20;
const JOB_SERVICE_MS = 1000;

const countBy = (values: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v || '(nobody)'] = (counts[v || '(nobody)'] ?? 0) + 1;
  return counts;
};

void runDrill('server-kill', (short ? 60 : 180) * 1000, async (cleanup, lines) => {
  const c = await DrillCluster.start({ servers: 3, serverEnv: { LANEWAY_JOB_LOCK_MS: String(JOB_LOCK_MS) } }, cleanup);
  const jobs = new JobTracker(c.api, c.cluster, c.runsKey);
  cleanup.add('close the job tracker', () => jobs.close());
  const load = new SteadyLoad(`http://127.0.0.1:${c.haproxy.port}/who`);
  const submitter = jobs.submitEvery(JOB_EVERY_MS, () => jobs.viaControlPlane(JOB_SERVICE, { ms: JOB_SERVICE_MS }));

  await sleep(KILL_AT_MS);
  const before = { ...load.counts.byServer };
  const victim = 's2';
  const killedAt = Date.now();
  await c.server(victim).kill9();
  const cutOff = await jobs.midRunOn(victim);
  lines.push(`killed ${victim} (kill -9) after ${KILL_AT_MS} ms; it had answered ${before[victim] ?? 0} requests`);
  await c.haproxy.waitFor(victim, 'DOWN', 10_000);
  lines.push(`HAProxy took ${victim} out ${Date.now() - killedAt} ms after the kill`);
  await sleep(Math.max(0, LOAD_MS - (Date.now() - killedAt) - KILL_AT_MS));
  await submitter.stop();
  const result = await load.stop();
  // Let the last InvokeAsync calls return before counting.
  while (jobs.sent > jobs.ids.length + jobs.failed + jobs.refused) await sleep(50);
  const jobResult = await jobs.verify(JOB_LOCK_MS + 30_000);

  lines.push(`channel GETs through HAProxy: ${result.sent} sent, ${result.ok} ok, ${result.failed} failed; per server ${JSON.stringify(result.byServer)}`);
  for (const f of result.failures) lines.push(`  failed GET at +${f.at - killedAt} ms: ${f.status} ${f.detail}`);
  lines.push(
    `async jobs (InvokeAsync, ${JOB_SERVICE_MS} ms each): ${jobResult.sent} sent, ${jobResult.accepted} accepted, ${jobResult.failed} failed, ` +
      `${jobResult.lost} lost, ${jobResult.duplicates} run twice (at-least-once)`,
  );
  const takenOver = await jobs.finishedBy(cutOff);
  lines.push(`${cutOff.length} jobs were mid-run on ${victim} when it died; finished afterwards by ${JSON.stringify(countBy(takenOver))}`);
  for (const f of jobs.failures) lines.push(`  failed call: ${f}`);
  for (const why of jobResult.lostWhy.slice(0, 10)) lines.push(`  lost: ${why}`);
  if (cutOff.length === 0) throw new Error(`${victim} held no job mid-run at the kill: the drill proved nothing about take-over`);
  if (takenOver.some((s) => s === victim || s === '')) throw new Error(`a job cut off on ${victim} was not finished by another server: ${JSON.stringify(takenOver)}`);
  if (!before[victim]) throw new Error(`${victim} answered no request before the kill: the drill proved nothing`);
  return {
    sent: result.sent + jobResult.sent,
    ok: result.ok + jobResult.accepted - jobResult.lost,
    failed: result.failed + jobResult.failed,
    lost: jobResult.lost,
    duplicates: jobResult.duplicates,
  };
});
