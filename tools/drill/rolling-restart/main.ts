// Drill rolling-restart (issue 20): three servers behind HAProxy; under a steady load of channel GETs
// and async jobs, each server in turn is drained (HAProxy's check takes it out), stopped (SIGTERM:
// it finishes what it holds), started again and resumed (HAProxy takes it back). Proves: 0 failed
// requests and 0 lost jobs across a whole rolling restart.
//   npm run drill -- rolling-restart [--short]
import { DrillCluster } from '../lib/cluster';
import { JobTracker } from '../lib/jobs';
import { SteadyLoad, sleep } from '../lib/load';
import { runDrill, short } from '../lib/report';
import { JOB_SERVICE } from '../lib/services';

// Load before, between and after the restarts (each restart takes about 6 s: the health checks).
const PAUSE_MS = short ? 500 : 8_000;
const JOB_EVERY_MS = 50;
const JOB_SERVICE_MS = 200;

void runDrill('rolling-restart', (short ? 75 : 180) * 1000, async (cleanup, lines) => {
  const c = await DrillCluster.start({ servers: 3, serverEnv: { LANEWAY_JOB_LOCK_MS: '5000' } }, cleanup);
  const jobs = new JobTracker(c.api, c.cluster, c.runsKey);
  cleanup.add('close the job tracker', () => jobs.close());
  const load = new SteadyLoad(`http://127.0.0.1:${c.haproxy.port}/who`);
  const submitter = jobs.submitEvery(JOB_EVERY_MS, () => jobs.viaControlPlane(JOB_SERVICE, { ms: JOB_SERVICE_MS }));
  const started = Date.now();
  await sleep(PAUSE_MS);
  for (const name of c.names) {
    const t0 = Date.now();
    await c.api.drain(c.cluster, name);
    await c.haproxy.waitFor(name, 'DOWN');
    const out = Date.now();
    await c.server(name).stop();
    await c.startServer(name);
    await c.api.resume(c.cluster, name);
    await c.haproxy.waitFor(name, 'UP');
    lines.push(
      `${name}: drained, out of HAProxy after ${out - t0} ms, stopped and started again, resumed, back in HAProxy ${Date.now() - t0} ms after the drain`,
    );
    await sleep(PAUSE_MS);
  }
  await submitter.stop();
  const result = await load.stop();
  while (jobs.sent > jobs.ids.length + jobs.failed + jobs.refused) await sleep(50);
  const jobResult = await jobs.verify(30_000);
  const seconds = Math.round((Date.now() - started) / 1000);
  lines.push(`channel GETs through HAProxy over ${seconds} s: ${result.sent} sent, ${result.ok} ok, ${result.failed} failed; per server ${JSON.stringify(result.byServer)}`);
  for (const f of result.failures) lines.push(`  failed GET at +${f.at - started} ms: ${f.status} ${f.detail}`);
  lines.push(
    `async jobs (InvokeAsync, ${JOB_SERVICE_MS} ms each): ${jobResult.sent} sent, ${jobResult.accepted} accepted, ${jobResult.failed} failed, ` +
      `${jobResult.lost} lost, ${jobResult.duplicates} run twice`,
  );
  for (const f of jobs.failures) lines.push(`  failed call: ${f}`);
  for (const why of jobResult.lostWhy.slice(0, 10)) lines.push(`  lost: ${why}`);
  return {
    sent: result.sent + jobResult.sent,
    ok: result.ok + jobResult.accepted - jobResult.lost,
    failed: result.failed + jobResult.failed,
    lost: jobResult.lost,
    duplicates: jobResult.duplicates,
  };
});
