import { status } from '@grpc/grpc-js';
import { ApplyOutcome, ScheduleOverlap, ScheduleRunOutcome } from '@laneway/proto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  eventually,
  REDIS_URL,
  runCli,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

// Each run records its invocation id (a tick's job id, `repeat:<scheduler>:<due ms>`) and its server
// in a Redis list, where the test counts them.
const services = `
const { defineService } = require('@laneway/sdk');
const { Redis } = require('ioredis');
const clients = new Map();
function redis(url) {
  let c = clients.get(url);
  if (!c) {
    c = new Redis(url, { maxRetriesPerRequest: 3 });
    clients.set(url, c);
  }
  return c;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.count = defineService({
  name: 'sch.count',
  async handle(input, ctx) {
    await redis(input.redis).rpush(input.key, JSON.stringify({ id: ctx.invocationId, server: ctx.server }));
    return { id: ctx.invocationId };
  },
});
exports.slow = defineService({
  name: 'sch.slow',
  attempts: 3,
  async handle(input, ctx) {
    const r = redis(input.redis);
    await r.rpush(input.key + ':started', JSON.stringify({ id: ctx.invocationId, server: ctx.server }));
    await sleep(input.ms);
    await r.rpush(input.key + ':done', JSON.stringify({ id: ctx.invocationId, server: ctx.server }));
    return { done: true };
  },
});
exports.fail = defineService({
  name: 'sch.fail',
  attempts: 2,
  async handle(input, ctx) {
    await redis(input.redis).rpush(input.key, JSON.stringify({ id: ctx.invocationId, server: ctx.server }));
    throw new Error('downstream refused day ' + input.day);
  },
});
`;

interface Effect {
  id: string;
  server: string;
}

const SERVERS = ['s1', 's2', 's3'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The due time of a tick, from its job id. */
const tickOf = (id: string): number => Number(/:(\d+)$/.exec(id)?.[1] ?? NaN);

function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: { code: number; details: string }) => err,
  );
}

describe('schedules: one run per tick on three servers, pause/resume/run now, a killed server, an outage', () => {
  const prefix = uniqueName('lwsched');
  const cluster = uniqueName('sched');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-schedules-'));
  let cp: ControlPlaneHandle;
  let api: Api;
  let joinToken: string;
  let redis: Redis;
  const servers = new Map<string, AppProcess>();

  const serverEnv = (name: string): Record<string, string> => ({
    LANEWAY_CONTROL_PLANE: cp.address,
    LANEWAY_CLUSTER: cluster,
    LANEWAY_SERVER_NAME: name,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_JOIN_TOKEN: joinToken,
    // A dead server's run is taken over within a few seconds.
    LANEWAY_JOB_LOCK_MS: '2000',
    LANEWAY_SHUTDOWN_TIMEOUT_MS: '5000',
  });
  const effects = async (key: string): Promise<Effect[]> => (await redis.lrange(key, 0, -1)).map((e) => JSON.parse(e) as Effect);

  beforeAll(async () => {
    // Job schedulers are checked against the stored schedules twice a second (30 s by default), which
    // also shows that checking leaves matching ones alone: the tests below count exact ticks.
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_SCHEDULE_CHECK_MS: '500' });
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    joinToken = await api.joinToken(cluster);
    redis = new Redis(REDIS_URL);
    const started = await Promise.all(SERVERS.map((name) => startServer(serverEnv(name))));
    started.forEach((s, n) => servers.set(SERVERS[n]!, s));
    const deployed = await api.deploy(cluster, [{ path: 'sched/services.js', content: services }]);
    expect(deployed.servers.map((s) => s.outcome)).toEqual(SERVERS.map(() => ApplyOutcome.APPLY_OUTCOME_ACKED));
  });

  afterAll(async () => {
    api?.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await cp?.process.stop();
    await redis?.quit();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a bad cron expression, an unknown time zone or service, naming the field and value', async () => {
    const bad = [
      { schedule: { name: 'bad', service: 'sch.count', cron: '61 * * * *' }, field: 'cron', value: '61 * * * *' },
      { schedule: { name: 'bad', service: 'sch.count', cron: '0 * * * *', timezone: 'Mars/Olympus_Mons' }, field: 'timezone', value: 'Mars/Olympus_Mons' },
      { schedule: { name: 'bad', service: 'no.such.service', intervalMs: 5000 }, field: 'service', value: 'no.such.service' },
      { schedule: { name: 'bad', service: 'sch.count', intervalMs: 5000, cron: '0 * * * *' }, field: 'cron', value: '0 * * * *' },
      { schedule: { name: 'bad', service: 'sch.count', intervalMs: 10 }, field: 'interval_ms', value: '10' },
      { schedule: { name: 'bad', service: 'sch.count', intervalMs: 5000, inputJson: '{nope' }, field: 'input_json', value: 'not JSON' },
      { schedule: { name: 'bad name!', service: 'sch.count', intervalMs: 5000 }, field: 'name', value: 'bad name!' },
    ];
    for (const { schedule, field, value } of bad) {
      const err = await grpcError(api.putSchedule(cluster, schedule));
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(field);
      expect(err.details).toContain(value);
    }
    expect(await api.listSchedules(cluster)).toEqual([]);
    expect((await grpcError(api.getSchedule(cluster, 'bad'))).code).toBe(status.NOT_FOUND);

    // A good cron schedule shows its next tick, in its time zone: the next full hour.
    const hourly = await api.putSchedule(cluster, { name: 'hourly', service: 'sch.count', cron: '0 * * * *', timezone: 'Europe/Berlin', inputJson: '{"a":1}' });
    const next = new Date(hourly.schedule!.nextRunAt);
    expect(next.getUTCMinutes()).toBe(0);
    expect(next.getTime() - Date.now()).toBeGreaterThan(0);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(hourly.schedule!.spec).toMatchObject({ cron: '0 * * * *', timezone: 'Europe/Berlin', overlap: ScheduleOverlap.SCHEDULE_OVERLAP_SKIP, paused: false });
    expect(hourly.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    expect((await grpcError(api.putSchedule(cluster, { name: 'hourly', service: 'sch.count', intervalMs: 5000 }))).code).toBe(status.ALREADY_EXISTS);
    // The service a schedule runs cannot be undeployed from under it.
    const undeploy = await grpcError(api.undeploy(cluster, 'sch.count'));
    expect(undeploy.code).toBe(status.FAILED_PRECONDITION);
    expect(undeploy.details).toContain("schedule(s) 'hourly'");
    await api.changeSchedule(cluster, 'hourly', 'delete');
    expect((await grpcError(api.getSchedule(cluster, 'hourly'))).code).toBe(status.NOT_FOUND);
  });

  it('drives schedules from the CLI: create, list, show, run now, runs, pause, delete', async () => {
    const env = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_CLUSTER: cluster, LANEWAY_TOKEN: cp.adminToken, LANEWAY_DATA_DIR: dataDir };
    const key = `${prefix}:cli`;
    const data = JSON.stringify({ redis: REDIS_URL, key });
    const created = await runCli(['schedule', 'create', 'nightly', '--service', 'sch.count', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--data', data], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("schedule 'nightly' created");
    const listed = await runCli(['schedules'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/nightly\s+sch\.count\s+cron '0 3 \* \* \*' Europe\/Berlin\s+skip\s+active\s+\d{4}-/);
    const shown = await runCli(['schedule', 'show', 'nightly', '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({ name: 'nightly', spec: { service: 'sch.count', cron: '0 3 * * *', timezone: 'Europe/Berlin' } });

    const ran = await runCli(['schedule', 'run', 'nightly'], env);
    expect(ran.code).toBe(0);
    await eventually(() => redis.llen(key), (n) => n === 1, 10_000);
    const runs = await eventually(() => runCli(['schedule', 'runs', 'nightly'], env), (r) => r.stdout.includes(' ok '), 10_000);
    expect(runs.stdout).toMatch(/now \(manual\)\s+\S+\s+s[123]\s+ok\s+\d+ms\s+1\s+schedule\.nightly\.now\./);

    const paused = await runCli(['schedule', 'pause', 'nightly'], env);
    expect(paused.stdout).toContain("schedule 'nightly' paused");
    expect((await runCli(['schedules'], env)).stdout).toMatch(/nightly .* paused\s+-/);
    const badCron = await runCli(['schedule', 'create', 'broken', '--service', 'sch.count', '--cron', '0 25 * * *'], env);
    expect(badCron.code).toBe(1);
    expect(badCron.stderr).toContain("cron '0 25 * * *'");
    const both = await runCli(['schedule', 'create', 'broken', '--service', 'sch.count', '--every', '30s', '--cron', '0 * * * *'], env);
    expect(both.code).toBe(2);
    const deleted = await runCli(['schedule', 'delete', 'nightly'], env);
    expect(deleted.stdout).toContain("schedule 'nightly' deleted");
    expect((await runCli(['schedules'], env)).stdout).toContain('no schedules');
  });

  // The next three use schedules, services and keys of their own and run side by side (about 10 s of a
  // run's wall time saved); the killed server, the lane move and the outage below each run alone.
  it.concurrent('runs an every-second schedule exactly once per tick on three servers; pause, resume and run now', async () => {
    const key = `${prefix}:tick`;
    const created = await api.putSchedule(cluster, { name: 'tick', service: 'sch.count', intervalMs: 1000, inputJson: JSON.stringify({ redis: REDIS_URL, key }) });
    const firstDue = Date.parse(created.schedule!.nextRunAt);
    expect(firstDue - Date.now()).toBeLessThanOrEqual(1000);

    await eventually(() => redis.llen(key), (n) => n >= 6, 30_000);
    const paused = await api.changeSchedule(cluster, 'tick', 'pause');
    expect(paused.schedule).toMatchObject({ nextRunAt: '', spec: { paused: true } });
    // A run already started finishes; then nothing more while paused.
    await sleep(1000);
    const atPause = await effects(key);
    await sleep(2500);
    expect(await redis.llen(key)).toBe(atPause.length);

    const ids = atPause.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const ticks = ids.map(tickOf).sort((a, b) => a - b);
    // The first six ticks, one second apart, ran once each: exactly six runs.
    expect(ticks[0]).toBe(firstDue);
    expect(ticks.slice(0, 6)).toEqual(Array.from({ length: 6 }, (_, n) => firstDue + n * 1000));
    const perServer = new Map<string, number>();
    for (const e of atPause) perServer.set(e.server, (perServer.get(e.server) ?? 0) + 1);
    console.log(`schedule 'tick': ${atPause.length} runs, per server ${JSON.stringify(Object.fromEntries(perServer))}`);

    // The run list has each of them once, as ok, with the server that ran it.
    const runs = await api.listScheduleRuns(cluster, 'tick', 1000);
    expect(runs.map((r) => r.jobId).sort()).toEqual([...ids].sort());
    const byId = new Map(atPause.map((e) => [e.id, e.server]));
    for (const run of runs) {
      expect(run.outcome).toBe(ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK);
      expect(run.server).toBe(byId.get(run.jobId));
      expect(Date.parse(run.scheduledAt)).toBe(tickOf(run.jobId));
    }

    // Resume: ticks again, later than every earlier one.
    const resumed = await api.changeSchedule(cluster, 'tick', 'resume');
    expect(resumed.schedule!.nextRunAt).not.toBe('');
    await eventually(() => redis.llen(key), (n) => n >= atPause.length + 2, 15_000);
    await api.changeSchedule(cluster, 'tick', 'pause');
    await sleep(1000);
    const afterResume = (await effects(key)).slice(atPause.length);
    expect(Math.min(...afterResume.map((e) => tickOf(e.id)))).toBeGreaterThan(ticks[ticks.length - 1]!);

    // Run now, paused: exactly one run more.
    const before = await redis.llen(key);
    const jobId = await api.runScheduleNow(cluster, 'tick');
    await eventually(() => redis.llen(key), (n) => n > before, 10_000);
    await sleep(1000);
    const manual = (await effects(key)).slice(before);
    expect(manual.map((e) => e.id)).toEqual([jobId]);
    const manualRun = (await api.listScheduleRuns(cluster, 'tick', 1)).at(0);
    expect(manualRun).toMatchObject({ jobId, manual: true, outcome: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK });
  }, 60_000);

  it.concurrent("retries a failing run per the service's attempts and records it once, as failed, with the error", async () => {
    const key = `${prefix}:fail`;
    // A cron schedule that will not tick during the test: the run comes from RunScheduleNow.
    await api.putSchedule(cluster, { name: 'fail', service: 'sch.fail', cron: '0 0 1 1 *', inputJson: JSON.stringify({ redis: REDIS_URL, key, day: 7 }) });
    const jobId = await api.runScheduleNow(cluster, 'fail');
    const runs = await eventually(() => api.listScheduleRuns(cluster, 'fail'), (r) => r.length > 0, 15_000);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ jobId, outcome: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_FAILED, attempt: 2, manual: true });
    expect(runs[0]!.error).toContain('downstream refused day 7');
    // Both attempts ran, with the same invocation id.
    expect((await effects(key)).map((e) => e.id)).toEqual([jobId, jobId]);
    await api.changeSchedule(cluster, 'fail', 'delete');
  });

  it.concurrent('lets the runs of an ALLOW schedule overlap', async () => {
    const key = `${prefix}:allow`;
    await api.putSchedule(cluster, { name: 'allow', service: 'sch.slow', intervalMs: 1000, overlap: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW, inputJson: JSON.stringify({ redis: REDIS_URL, key, ms: 2500 }) });
    await eventually(() => redis.llen(`${key}:started`), (n) => n >= 3, 15_000);
    // Three started, each taking 2.5 s, one second apart: the first two at least were running at once.
    expect(await redis.llen(`${key}:done`)).toBeLessThanOrEqual(1);
    await api.changeSchedule(cluster, 'allow', 'pause');
    // A tick that was already taken when the schedule paused still runs.
    await sleep(500);
    await eventually(
      async () => [await redis.llen(`${key}:started`), await redis.llen(`${key}:done`)],
      ([started, done]) => done === started,
      10_000,
    );
    const started = (await effects(`${key}:started`)).map((e) => e.id);
    const runs = await eventually(() => api.listScheduleRuns(cluster, 'allow'), (r) => r.length >= started.length, 5000);
    expect(runs.every((r) => r.outcome === ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK)).toBe(true);
    expect(runs.map((r) => r.jobId).sort()).toEqual([...new Set(started)].sort());
  }, 40_000);

  it('retries a run whose server was killed mid-run on another server, and counts it once', async () => {
    const key = `${prefix}:slow`;
    await api.putSchedule(cluster, { name: 'slow', service: 'sch.slow', intervalMs: 2000, inputJson: JSON.stringify({ redis: REDIS_URL, key, ms: 2500 }) });
    const [first] = await eventually(() => effects(`${key}:started`), (e) => e.length >= 1, 15_000);
    const victim = first!.server;
    await servers.get(victim)!.kill9();
    try {
      const done = await eventually(() => effects(`${key}:done`), (e) => e.some((d) => d.id === first!.id), 30_000);
      await api.changeSchedule(cluster, 'slow', 'pause');
      const finished = done.find((d) => d.id === first!.id)!;
      expect(finished.server).not.toBe(victim);
      // Started on the killed server, then again elsewhere, and finished once.
      const starts = (await effects(`${key}:started`)).filter((s) => s.id === first!.id);
      expect(starts.map((s) => s.server)).toEqual([victim, finished.server]);
      await sleep(3000);
      expect((await effects(`${key}:done`)).filter((d) => d.id === first!.id)).toHaveLength(1);

      const runs = await api.listScheduleRuns(cluster, 'slow', 1000);
      const ofFirst = runs.filter((r) => r.jobId === first!.id);
      expect(ofFirst).toHaveLength(1);
      expect(ofFirst[0]).toMatchObject({ outcome: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK, server: finished.server });
      expect(ofFirst[0]!.attempt).toBe(2);
      // Ticks that came while it was still going (the take-over included) were skipped, not run.
      const ran = new Set((await effects(`${key}:started`)).map((s) => s.id));
      for (const run of runs) {
        if (run.outcome === ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED) expect(ran.has(run.jobId)).toBe(false);
        else expect(ran.has(run.jobId)).toBe(true);
      }
      console.log(`schedule 'slow': ${runs.length} runs recorded, ${runs.filter((r) => r.outcome === ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED).length} skipped`);
    } finally {
      servers.set(victim, await startServer(serverEnv(victim)));
    }
  }, 60_000);

  it('keeps a schedule running when Redis loses its job scheduler, drops a leftover, and moves it with its service to the CPU lane', async () => {
    const key = `${prefix}:kept`;
    const { laneQueueName, scheduleSchedulerId } = await import('@laneway/lanes');
    const lanes = { network: new Queue(laneQueueName(cluster, 'network'), { connection: redis, prefix }), cpu: new Queue(laneQueueName(cluster, 'cpu'), { connection: redis, prefix }) };
    const where = async (schedule: string): Promise<string[]> =>
      (await Promise.all((['network', 'cpu'] as const).map(async (lane) => ((await lanes[lane].getJobScheduler(scheduleSchedulerId(schedule))) ? [lane] : [])))).flat();
    try {
      await api.putSchedule(cluster, { name: 'kept', service: 'sch.count', intervalMs: 1000, inputJson: JSON.stringify({ redis: REDIS_URL, key }) });
      await eventually(() => redis.llen(key), (n) => n >= 2, 15_000);

      // What a Redis restart does to it (Redis keeps nothing on disk), and a leftover of a schedule the store does not hold.
      await lanes.network.removeJobScheduler(scheduleSchedulerId('kept'));
      await lanes.network.upsertJobScheduler(scheduleSchedulerId('ghost'), { every: 3_600_000, startDate: Date.now() + 3_600_000 }, { name: 'sch.count', data: { s: 'sch.count', i: null, id: '' } });
      const atLoss = await redis.llen(key);
      expect(await where('kept')).toEqual([]);
      await eventually(() => where('kept'), (w) => w.join() === 'network', 10_000);
      await eventually(() => where('ghost'), (w) => w.length === 0, 10_000);
      await eventually(() => redis.llen(key), (n) => n >= atLoss + 2, 15_000);
      expect((await api.getSchedule(cluster, 'kept')).nextRunAt).not.toBe('');

      // The service redeployed on the CPU lane: its schedule's ticks go to the CPU lane queue, where they run.
      await api.deploy(cluster, [{ path: 'sched/services.js', content: services.replace("name: 'sch.count',", "name: 'sch.count',\n  lane: 'cpu',") }]);
      await eventually(() => where('kept'), (w) => w.join() === 'cpu', 10_000);
      const moved = await redis.llen(key);
      await eventually(() => redis.llen(key), (n) => n >= moved + 2, 15_000);
      const runs = await api.listScheduleRuns(cluster, 'kept', 1000);
      expect(runs.every((r) => r.outcome === ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK)).toBe(true);
      // Every tick ran once: no tick doubled by a repair.
      const ids = (await effects(key)).map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await api.changeSchedule(cluster, 'kept', 'delete').catch(() => undefined);
      await api.deploy(cluster, [{ path: 'sched/services.js', content: services }]);
      await lanes.network.close();
      await lanes.cpu.close();
    }
  }, 60_000);

  it('makes exactly one catch-up run after every server was down for six ticks', async () => {
    const key = `${prefix}:beat`;
    await api.putSchedule(cluster, { name: 'beat', service: 'sch.count', intervalMs: 1000, inputJson: JSON.stringify({ redis: REDIS_URL, key }) });
    await eventually(() => redis.llen(key), (n) => n >= 3, 15_000);
    await Promise.all([...servers.values()].map((s) => s.stop()));
    const beforeOutage = await effects(key);
    const last = Math.max(...beforeOutage.map((e) => tickOf(e.id)));
    // Six ticks are missed: enough to tell one catch-up run from one per missed tick (a minute, 60
    // ticks, asserted nothing more and cost CI 48 s; a dozen, 6 s more).
    await sleep(6_000);
    const backAt = Date.now();
    const restarted = await Promise.all(SERVERS.map((name) => startServer(serverEnv(name))));
    restarted.forEach((s, n) => servers.set(SERVERS[n]!, s));
    await eventually(() => redis.llen(key), (n) => n >= beforeOutage.length + 3, 20_000);
    await api.changeSchedule(cluster, 'beat', 'pause');
    await sleep(1000);

    const all = await effects(key);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const after = all.slice(beforeOutage.length).map((e) => tickOf(e.id));
    // The one tick that was due while the cluster was down ran once; the others that passed did not.
    expect(after.filter((t) => t < backAt)).toEqual([last + 1000]);
    expect(after.filter((t) => t >= backAt).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
