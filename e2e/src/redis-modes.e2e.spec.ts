import { JobState, ScheduleRunOutcome } from '@laneway/proto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  startCluster,
  startRedisCluster,
  startRedisSentinel,
  type OwnRedisCluster,
  type OwnRedisSentinel,
  type TestCluster,
} from '@laneway/testkit';

const services = `
const { defineService } = require('@laneway/sdk');
exports.echo = defineService({ name: 'rm.echo', handle: (input, ctx) => ({ got: input, server: ctx.server }) });
exports.sum = defineService({
  name: 'rm.sum',
  lane: 'cpu',
  handle: (input) => {
    let total = 0;
    for (let i = 1; i <= input.n; i++) total += i;
    return { total };
  },
});
exports.tick = defineService({ name: 'rm.tick', handle: (_input, ctx) => ({ id: ctx.invocationId }) });
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every lane queue's key sits on one node: the tag in braces, the node's port. */
async function tagsByNode(redis: OwnRedisCluster, prefix: string): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  for (const port of redis.ports) {
    const node = new Redis(port, '127.0.0.1', { lazyConnect: true });
    await node.connect();
    const keys = await node.keys(`${prefix}:*`);
    await node.quit();
    for (const tag of new Set(keys.map((k) => /\{([^}]*)\}/.exec(k)?.[1] ?? `(none: ${k})`)))
      found.set(tag, [...(found.get(tag) ?? []), port]);
  }
  return found;
}

describe('Redis Cluster and Sentinel: lanes, channels, schedules and async jobs in each mode; a Sentinel failover under load', () => {
  let cluster: OwnRedisCluster;
  let sentinel: OwnRedisSentinel;
  let onCluster: TestCluster;
  let onSentinel: TestCluster;

  beforeAll(async () => {
    [cluster, sentinel] = await Promise.all([startRedisCluster(3), startRedisSentinel('lwprimary')]);
    // REDIS_URL '' (unset): the control plane and the server take exactly one mode.
    const clusterEnv = { REDIS_URL: '', LANEWAY_REDIS_CLUSTER: cluster.seeds };
    const sentinelEnv = {
      REDIS_URL: '',
      LANEWAY_REDIS_SENTINELS: sentinel.sentinels,
      LANEWAY_REDIS_SENTINEL_MASTER: sentinel.master,
      // An acknowledged async job is on the replica too, so a failover keeps it.
      LANEWAY_REDIS_WAIT_REPLICAS: '1',
    };
    // A job whose completion was written to the old primary after the switch runs again on the new one: soon.
    const lock = { LANEWAY_JOB_LOCK_MS: '2000' };
    [onCluster, onSentinel] = await Promise.all([
      startCluster({
        servers: 1,
        http: true,
        name: 'lwrcl',
        env: clusterEnv,
        serverEnv: { ...clusterEnv, ...lock },
      }),
      startCluster({
        servers: 1,
        http: true,
        name: 'lwrsn',
        env: sentinelEnv,
        serverEnv: { ...sentinelEnv, ...lock },
      }),
    ]);
    for (const c of [onCluster, onSentinel]) {
      await c.api.deploy(c.cluster, [{ path: 'rm/services.js', content: services }]);
      await c.api.putChannel(c.cluster, {
        name: 'limited',
        method: 'GET',
        path: '/limited/:id',
        service: 'rm.echo',
        rateLimitPerSecond: 2,
      });
      await c.api.putChannel(c.cluster, {
        name: 'jobs',
        method: 'POST',
        path: '/jobs',
        service: 'rm.sum',
        async: true,
      });
    }
  });

  afterAll(async () => {
    await Promise.all([onCluster?.stop(), onSentinel?.stop()]);
    await Promise.all([cluster?.stop(), sentinel?.stop()]);
  });

  const modes = (): [string, TestCluster][] => [
    ['cluster', onCluster],
    ['sentinel', onSentinel],
  ];

  it('runs both lanes, a rate-limited channel, an idempotent async channel, async jobs and a schedule in each mode', async () => {
    await Promise.all(
      modes().map(async ([mode, c]) => {
        const base = `http://127.0.0.1:${c.httpPorts[0]}`;
        // Both lanes through their queues (the control plane's Invoke always queues).
        const echoed = await c.api.invoke(c.cluster, 'rm.echo', { n: 1 });
        expect(JSON.parse(echoed.outputJson), mode).toEqual({ got: { n: 1 }, server: 's1' });
        const summed = await c.api.invoke(c.cluster, 'rm.sum', { n: 100 });
        expect(JSON.parse(summed.outputJson), mode).toEqual({ total: 5050 });

        // The limit counts in Redis: five at once against two a second.
        const statuses = (
          await Promise.all(Array.from({ length: 5 }, (_, n) => fetch(`${base}/limited/${n}`)))
        ).map((r) => r.status);
        expect(statuses.filter((s) => s === 429).length, mode).toBeGreaterThanOrEqual(1);
        expect(statuses.filter((s) => s === 200).length, mode).toBeGreaterThanOrEqual(2);

        // An async channel call with an Idempotency-Key: one job, however often it is repeated.
        const post = (): Promise<Response> =>
          fetch(`${base}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `k-${mode}` },
            body: JSON.stringify({ n: 10 }),
          });
        const first = await post();
        expect(first.status, mode).toBe(202);
        const jobId = String(((await first.json()) as { jobId: string }).jobId);
        expect(await (await post()).json(), mode).toEqual({ jobId });

        // Async jobs on both lanes, and the channel's.
        const network = (await c.api.invokeAsync(c.cluster, 'rm.echo', { n: 2 })).jobId;
        const cpu = (await c.api.invokeAsync(c.cluster, 'rm.sum', { n: 4 })).jobId;
        for (const [id, output] of [
          [network, { got: { n: 2 }, server: 's1' }],
          [cpu, { total: 10 }],
          [jobId, { total: 55 }],
        ] as const) {
          const job = await eventually(
            () => c.api.getJob(c.cluster, id),
            (j) => j.state === JobState.JOB_STATE_COMPLETED,
            15_000,
          );
          expect(JSON.parse(job.outputJson), `${mode} ${id}`).toEqual(output);
        }

        // A schedule: its ticks queued by BullMQ's job scheduler, its runs recorded by one script over two keys.
        await c.api.putSchedule(c.cluster, { name: 'beat', service: 'rm.tick', intervalMs: 1000 });
        const runs = await eventually(
          () => c.api.listScheduleRuns(c.cluster, 'beat'),
          (r) => r.length >= 1,
          10_000,
        );
        expect(runs[0]!.outcome, mode).toBe(ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK);
        // Deleting it removes its three keys in one DEL.
        await c.api.changeSchedule(c.cluster, 'beat', 'delete');
      }),
    );

    // In the Cluster, each lane queue's keys are on one node (one hash tag per queue).
    const tags = await tagsByNode(cluster, onCluster.prefix);
    const network = `${onCluster.cluster}.network`;
    const cpu = `${onCluster.cluster}.cpu`;
    expect(tags.get(network)).toHaveLength(1);
    expect(tags.get(cpu)).toHaveLength(1);
    for (const [tag, nodes] of tags) expect(nodes, tag).toHaveLength(1);
    console.log(`redis cluster: queue keys by node ${JSON.stringify(Object.fromEntries(tags))}`);
  });

  /**
   * Sync Invokes (three at a time), async InvokeAsyncs (two at a time) and async channel calls with an
   * Idempotency-Key (one at a time) against the Sentinel-backed cluster while `event` happens, until 20
   * sync calls succeeded after it. A channel call the replica did not confirm is repeated with its key
   * afterwards: it is then acknowledged, with the same job id whether the first job survived or was
   * queued again; or, with no replica left to confirm it (the primary killed), refused as unconfirmed
   * again, naming that job, which the new primary holds.
   */
  async function underLoad(event: () => Promise<{ from: number; to: number }>): Promise<{
    syncOkBefore: number;
    syncOkAfter: number;
    syncErrors: string[];
    acknowledged: string[];
    /** Jobs a repeat of an unconfirmed call's Idempotency-Key answered with (202, or 503 naming it unconfirmed). */
    repeatedKeys: string[];
    refused: { jobId: string | undefined; message: string }[];
    channelRefused: string[];
    switchMs: number;
  }> {
    const c = onSentinel;
    const result = {
      syncOkBefore: 0,
      syncOkAfter: 0,
      syncErrors: [] as string[],
      acknowledged: [] as string[],
      repeatedKeys: [] as string[],
      refused: [] as { jobId: string | undefined; message: string }[],
      channelRefused: [] as string[],
      switchMs: 0,
    };
    const unconfirmedKeys: string[] = [];
    const postJob = async (
      key: string,
    ): Promise<{ status: number; body: { jobId?: string; error?: { message: string } } }> => {
      const response = await fetch(`http://127.0.0.1:${c.httpPorts[0]}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ n: 3 }),
        signal: AbortSignal.timeout(10_000),
      });
      return {
        status: response.status,
        body: (await response.json()) as { jobId?: string; error?: { message: string } },
      };
    };
    let phase: 'before' | 'during' | 'after' = 'before';
    let stop = false;
    const syncLoop = async (): Promise<void> => {
      while (!stop) {
        try {
          await c.api.invoke(c.cluster, 'rm.echo', { n: 1 }, 3000);
          if (phase === 'before') result.syncOkBefore++;
          if (phase === 'after') result.syncOkAfter++;
        } catch (err) {
          result.syncErrors.push(
            `${(err as { code?: number }).code}: ${(err as { details?: string }).details ?? String(err)}`,
          );
          await sleep(50);
        }
      }
    };
    const asyncLoop = async (): Promise<void> => {
      for (let n = 0; !stop; n++) {
        try {
          result.acknowledged.push((await c.api.invokeAsync(c.cluster, 'rm.sum', { n })).jobId);
        } catch (err) {
          const message = (err as { details?: string }).details ?? String(err);
          result.refused.push({ jobId: /job '([^']+)' was queued/.exec(message)?.[1], message });
          await sleep(50);
        }
      }
    };
    const label = Math.random().toString(36).slice(2, 8);
    const channelLoop = async (): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const key = `${label}-${n}`;
        const answer = await postJob(key);
        if (answer.status === 202) result.acknowledged.push(answer.body.jobId!);
        else {
          const message = answer.body.error?.message ?? JSON.stringify(answer.body);
          result.channelRefused.push(`${answer.status}: ${message}`);
          if (message.includes('was queued but only') || message.includes('may still be queued'))
            unconfirmedKeys.push(key);
          await sleep(50);
        }
      }
    };
    const loops = [syncLoop(), syncLoop(), syncLoop(), asyncLoop(), asyncLoop(), channelLoop()];
    await eventually(
      async () => result.syncOkBefore + result.acknowledged.length,
      (n) => n >= 20,
      10_000,
    );
    phase = 'during';
    const started = Date.now();
    const { from, to } = await event();
    result.switchMs = Date.now() - started;
    phase = 'after';
    try {
      await eventually(
        async () => result.syncOkAfter,
        (n) => n >= 20,
        30_000,
      );
    } catch (err) {
      // Say what the calls met, so a failure here can be told apart (clients not moving, or a part down).
      const seen = [...new Set(result.syncErrors.slice(-20))].join(' | ');
      stop = true;
      await Promise.allSettled(loops);
      // And what the control plane and the server logged last (a stall here was seen twice in CI, never
      // reproduced in a quiet run: these lines are what is known of it when it comes back).
      for (const p of [c.cp.process, ...c.servers]) console.log(`${p.name}, last log lines:\n${p.output.slice(-25).join('\n')}`);
      throw new Error(`${(err as Error).message}; ${from} -> ${to} after ${result.switchMs} ms; ${result.syncOkAfter} sync ok after; last sync errors: ${seen}`, { cause: err });
    }
    stop = true;
    await Promise.all(loops);
    // Repeated with its key once Redis is back, a call the replica did not confirm is acknowledged,
    // or (no replica left) refused as unconfirmed again, naming its job.
    const unconfirmedJob = (a: { body: { error?: { message: string } } }): string | undefined =>
      /job '([^']+)' was queued but only/.exec(a.body.error?.message ?? '')?.[1];
    for (const key of unconfirmedKeys) {
      const again = await eventually(
        () => postJob(key),
        (a) => a.status === 202 || (a.status === 503 && unconfirmedJob(a) !== undefined),
        10_000,
      );
      result.repeatedKeys.push(again.status === 202 ? again.body.jobId! : unconfirmedJob(again)!);
    }
    console.log(
      `sentinel ${from} -> ${to} in ${result.switchMs} ms under load: ${result.syncOkBefore} sync ok before, ${result.syncErrors.length} failed, ${result.syncOkAfter} ok after; ` +
        `${result.acknowledged.length} async acknowledged (channel and InvokeAsync), ${result.refused.length} InvokeAsync refused, ` +
        `${result.channelRefused.length} channel calls refused (${unconfirmedKeys.length} unconfirmed, repeated with their key)`,
    );
    const shown = (m: string): string => m.replace(/'[0-9a-f]{16}-a\d+'/g, "'<job>'");
    for (const e of new Set(result.syncErrors.map(shown))) console.log(`  sync error: ${e}`);
    for (const e of new Set(result.refused.map((r) => shown(r.message))))
      console.log(`  async refused: ${e}`);
    const shownChannel = (m: string): string => m.replace(/'jobs-[0-9a-f-]{32,36}'/g, "'<job>'");
    for (const e of new Set(result.channelRefused.map(shownChannel))) console.log(`  channel refused: ${e}`);
    for (const e of result.channelRefused) {
      expect(e).toMatch(
        /^503: (channel 'jobs' is async and Redis is unreachable: nothing was queued|channel 'jobs': job '[^']+' was queued but only 0 of 1 Redis replica\(s\) confirmed it in time .*repeat it with the same Idempotency-Key to have it run once|channel 'jobs': Redis did not answer within 5 s; the call may still be queued, so repeat it with the same Idempotency-Key|channel 'jobs': the invocation could not be queued; retry)/,
      );
    }
    // Every failed call says what happened: Redis unreachable (nothing queued), or no answer in time.
    for (const e of result.syncErrors)
      expect(e).toMatch(
        /^(14: Redis \(LANEWAY_REDIS_SENTINELS\) is unreachable from the control plane|4: service 'rm\.echo' did not answer within 3000 ms|14: cannot queue service 'rm\.echo')/,
      );
    for (const r of result.refused) {
      expect(r.message).toMatch(
        /^(Redis \(LANEWAY_REDIS_SENTINELS\) is unreachable from the control plane|service 'rm\.sum': job '[^']+' was queued but only 0 of 1 Redis replica\(s\) confirmed it within 1000 ms|cannot queue service 'rm\.sum')/,
      );
    }
    expect(await sentinel.primaryPort()).toBe(to);
    return result;
  }

  /** Waits until each job is completed; the ones never found are returned. */
  async function completedOrMissing(
    c: TestCluster,
    ids: readonly string[],
  ): Promise<{ completed: string[]; missing: string[] }> {
    const state = (id: string): Promise<JobState | 'missing'> =>
      c.api.getJob(c.cluster, id).then(
        (j) => j.state,
        () => 'missing' as const,
      );
    const states = await eventually(
      () => Promise.all(ids.map(state)),
      (s) => s.every((x) => x === JobState.JOB_STATE_COMPLETED || x === 'missing'),
      20_000,
    );
    return {
      completed: ids.filter((_, n) => states[n] === JobState.JOB_STATE_COMPLETED),
      missing: ids.filter((_, n) => states[n] === 'missing'),
    };
  }

  it('Sentinel switchover, then the primary killed, under load: sync calls fail with a clear error or not at all and succeed after; no acknowledged async job is lost', async () => {
    // A planned switchover: the clients move when the Sentinels announce it, a little after the
    // promotion. Async calls that reached the old primary in between were refused by WAIT: the replica
    // never got them and they are gone. Without LANEWAY_REDIS_WAIT_REPLICAS they would have been
    // acknowledged, and lost.
    const switchover = await underLoad(() => sentinel.failover());
    const unconfirmed = switchover.refused.flatMap((r) => (r.jobId ? [r.jobId] : []));
    const after = await completedOrMissing(onSentinel, [...switchover.acknowledged, ...unconfirmed, ...switchover.repeatedKeys]);
    expect(after.missing.filter((id) => switchover.acknowledged.includes(id))).toEqual([]);
    // A repeat of an unconfirmed channel call's key names a job that runs: the key goes to Redis after
    // its job, so a key that survived the failover has its job, and a repeat that found none queued it again.
    expect(after.missing.filter((id) => switchover.repeatedKeys.includes(id))).toEqual([]);
    console.log(`switchover: ${switchover.repeatedKeys.length} repeats of unconfirmed keys, none of their jobs lost`);
    console.log(
      `switchover: ${unconfirmed.length} async jobs written to the old primary after the promotion, refused by WAIT; ${after.missing.length} of them are gone`,
    );

    // The primary dies: the clients cannot reach Redis until the Sentinels promote the replica.
    const killed = await underLoad(() => sentinel.killPrimary());
    const afterKill = await completedOrMissing(onSentinel, killed.acknowledged);
    expect(afterKill.missing).toEqual([]);
    expect(afterKill.completed).toHaveLength(killed.acknowledged.length);
    const repeatedAfterKill = await completedOrMissing(onSentinel, killed.repeatedKeys);
    expect(repeatedAfterKill.missing).toEqual([]);
    console.log(`primary killed: ${killed.repeatedKeys.length} repeats of unconfirmed keys, none of their jobs lost`);
    expect(killed.acknowledged.length).toBeGreaterThan(0);
  });

  it("closes a Sentinel connection's own Sentinel connections, BullMQ's duplicates' too", async () => {
    const { createRedis, LaneClient, laneQueueName } = await import('@laneway/lanes');
    const settings = {
      mode: 'sentinel' as const,
      sentinels: sentinel.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
      master: sentinel.master,
    };
    const probes = sentinel.sentinelPorts.map((port) => new Redis(port, '127.0.0.1'));
    const clients = async (): Promise<number> =>
      (await Promise.all(probes.map((p) => p.info('clients')))).reduce(
        (sum, info) => sum + Number(/connected_clients:(\d+)/.exec(info)?.[1]),
        0,
      );
    const before = await clients();
    const lanes = new LaneClient({ redis: settings, prefix: onSentinel.prefix });
    await lanes.invokeAsync({ cluster: 'nobody', lane: 'network', service: 'x', input: null });
    const connection = createRedis(settings);
    // A Worker duplicates the connection for its blocking fetches, and closes that one with quit().
    const worker = new Worker(laneQueueName('nobody', 'cpu'), async () => undefined, {
      connection,
      prefix: onSentinel.prefix,
    });
    await worker.waitUntilReady();
    expect(await clients()).toBeGreaterThan(before);
    await worker.close();
    await connection.quit();
    await lanes.close();
    await eventually(clients, (n) => n === before, 5000);
    // Sentinel has no QUIT.
    for (const p of probes) p.disconnect();
  });
});
