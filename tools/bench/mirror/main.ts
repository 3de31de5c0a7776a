// Mirror benchmark (issue 19): two sites on this machine, each a control plane, its own store, its own
// Redis and two servers; site B follows site A's cluster through a mirror token.
//   npm run bench -- mirror [--smoke]
// Site A: embedded store, the default Redis (a queue prefix of its own). Site B: PostgreSQL (a throwaway
// database) and a redis-server started here on a free loopback port.
// Measures, in one run: a deploy of SERVICES services on the source until all source servers ACKed
// (source_ms) and, from the same start, until all follower servers ACKed the follower revision holding
// it (follower_ms); then CHANGES one-channel changes on the source, each until both follower servers
// answer the new channel's path. Prints each figure beside its target and, last, one JSON line.
// Smoke mode is small and asserts only that the follower converged, never the times.
import { ApplyOutcome } from '@laneway/proto';
import { createTestDatabase, startCluster, startRedisServer, type OwnRedisServer, type TestCluster } from '@laneway/testkit';
import { median, percentile, report, round } from '../lib/stats';

const smoke = process.argv.includes('--smoke');
const SERVICES = smoke ? 100 : 1000;
const CHANGES = smoke ? 5 : 20;
const SERVERS = 2;
/**
 * Every wait below polls every POLL_MS (the follower's GetMirrorStatus and ListServers, the follower
 * servers' channel path): each follower figure includes up to POLL_MS plus one round trip of polling.
 */
const POLL_MS = 5;
const CONVERGE_TIMEOUT_MS = smoke ? 60_000 : 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small, distinct network-lane service (the same shape as the deploy benchmark's). */
function serviceFile(i: number, generation: number): { path: string; content: string } {
  return {
    path: `bench/svc-${i}.ts`,
    content: `import { defineService } from '@laneway/sdk';

interface Input { id?: string; amount?: number }

export default defineService({
  name: 'bench.svc-${i}',
  lane: 'network',
  async handle(input: Input, ctx) {
    const amount = (input?.amount ?? 0) * ${(i % 7) + 1};
    return { id: input?.id ?? 'n/a', amount, generation: ${generation}, server: ctx.server };
  },
});
`,
  };
}

/**
 * When every follower server has applied the follower revision holding source revision
 * `sourceTarget()` (which may grow once the deploy has answered): polls the follower's GetMirrorStatus
 * until applied_source_revision reaches it, takes the follower's own revision R at that moment, then
 * ListServers until every server (all SERVERS, connected) has applied_revision >= R.
 * Returns performance.now() at that point.
 */
async function followerServersAt(follower: TestCluster, sourceTarget: () => number, settled: Promise<unknown>): Promise<number> {
  const until = Date.now() + CONVERGE_TIMEOUT_MS;
  const timedOut = (what: string, last: unknown) => {
    if (Date.now() > until) throw new Error(`the follower did not converge within ${CONVERGE_TIMEOUT_MS} ms (${what}); last: ${JSON.stringify(last)}`);
  };
  for (;;) {
    let reached: number;
    let followerRevision: number;
    for (;;) {
      const status = await follower.api.mirrorStatus(follower.cluster);
      if (status.appliedSourceRevision >= sourceTarget()) {
        reached = status.appliedSourceRevision;
        followerRevision = status.revision;
        break;
      }
      timedOut('mirror status', status);
      await sleep(POLL_MS);
    }
    let at: number;
    for (;;) {
      const listed = await follower.api.listServers(follower.cluster);
      const done = listed.servers.filter((s) => s.connected && s.appliedRevision >= followerRevision);
      if (done.length >= SERVERS) {
        at = performance.now();
        break;
      }
      timedOut(`follower servers at revision ${followerRevision}`, listed.servers);
      await sleep(POLL_MS);
    }
    // The first target is a guess made before the deploy answered (the next source revision); once
    // the deploy has answered, its own revision is the target, and a higher one starts over.
    await settled;
    if (reached >= sourceTarget()) return at;
  }
}

/** When `port` (a follower server's channel listener) stops answering 404 at `url`; throws on anything but 200 then. */
async function answersAt(port: number, url: string): Promise<number> {
  const until = Date.now() + CONVERGE_TIMEOUT_MS;
  for (;;) {
    let status = 0;
    try {
      const response = await fetch(`http://127.0.0.1:${port}${url}`, { signal: AbortSignal.timeout(5000) });
      status = response.status;
      await response.arrayBuffer();
    } catch {
      status = 0;
    }
    if (status !== 404 && status !== 0) {
      const at = performance.now();
      if (status !== 200) throw new Error(`server on port ${port} answered ${status} at ${url}`);
      return at;
    }
    if (Date.now() > until) throw new Error(`server on port ${port} still answers ${status || 'nothing'} at ${url} after ${CONVERGE_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

async function main(): Promise<void> {
  let redisB: OwnRedisServer | undefined;
  let dbB: { url: string; drop: () => Promise<void> } | undefined;
  let a: TestCluster | undefined;
  let b: TestCluster | undefined;
  try {
    redisB = await startRedisServer();
    const redisBUrl = redisB.url;
    dbB = await createTestDatabase();
    a = await startCluster({ servers: SERVERS, http: true, name: 'lwbencha' });
    b = await startCluster({
      servers: SERVERS,
      http: true,
      name: 'lwbenchb',
      env: { DATABASE_URL: dbB.url, REDIS_URL: redisBUrl },
      serverEnv: { REDIS_URL: redisBUrl },
    });
    const source = a;
    const follower = b;

    const token = await source.api.mirrorToken(source.cluster);
    const followed = await follower.api.follow({ cluster: follower.cluster, sourceAddress: source.cp.address, sourceCluster: source.cluster, token });
    if (!followed.connected) throw new Error(`the follower is not connected to the source: ${JSON.stringify(followed)}`);

    // Warm-up, not counted: one service through both sites (mirror link, both sites' servers).
    const warm = await source.api.deploy(source.cluster, [serviceFile(-1, 0)], undefined, 60_000);
    await followerServersAt(follower, () => warm.revision, Promise.resolve());

    // 1. SERVICES services deployed on the source, ACKed by its servers; the follower's servers from the same start.
    const before = (await source.api.getCluster(source.cluster)).revision;
    let deployRevision: number | undefined;
    const started = performance.now();
    const deploying = source.api.deploy(source.cluster, Array.from({ length: SERVICES }, (_, i) => serviceFile(i, 1)), undefined, 60_000).then((result) => {
      deployRevision = result.revision;
      return { result, at: performance.now() };
    });
    const [deployed, followerAt] = await Promise.all([deploying, followerServersAt(follower, () => deployRevision ?? before + 1, deploying)]);
    const acked = deployed.result.servers.filter((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED).length;
    if (acked !== SERVERS) throw new Error(`only ${acked} of ${SERVERS} source servers ACKed: ${JSON.stringify(deployed.result.servers)}`);
    const sourceMs = deployed.at - started;
    const followerMs = followerAt - started;

    // The follower holds every service the source has.
    const [servicesA, servicesB] = await Promise.all([source.api.listServices(source.cluster), follower.api.listServices(follower.cluster)]);
    const namesA = servicesA.services.map((s) => s.name).sort();
    const namesB = servicesB.services.map((s) => s.name).sort();
    if (namesA.length !== SERVICES + 1 || JSON.stringify(namesA) !== JSON.stringify(namesB)) {
      throw new Error(`the follower lists ${namesB.length} services, the source ${namesA.length} (expected ${SERVICES + 1})`);
    }

    // 2. CHANGES one-channel changes on the source: from the call's start until both follower servers
    // answer the new path. The source's own wait for its servers' ACKs runs beside the polling, so it
    // delays nothing measured here; its duration is the source's figure for the same change.
    const changeMs: number[] = [];
    const sourceChangeMs: number[] = [];
    const changes: { revision: number; startedEpochMs: number }[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const url = `/bench-mirror/c${i}?id=x`;
      const startedEpochMs = Date.now();
      const t0 = performance.now();
      const [change, ...answered] = await Promise.all([
        source.api.putChannel(source.cluster, { name: `bench-mirror-c${i}`, method: 'GET', path: `/bench-mirror/c${i}`, service: `bench.svc-${i}` }).then((r) => ({ r, at: performance.now() })),
        ...follower.httpPorts.map((port) => answersAt(port, url)),
      ]);
      if (change.r.servers.some((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED)) throw new Error(`change ${i}: not ACKed by every source server: ${JSON.stringify(change.r.servers)}`);
      changeMs.push(Math.max(...answered) - t0);
      sourceChangeMs.push(change.at - t0);
      changes.push({ revision: change.r.revision, startedEpochMs });
    }
    const status = await follower.api.mirrorStatus(follower.cluster);
    if (!status.connected || status.appliedSourceRevision !== (await source.api.getCluster(source.cluster)).revision) {
      throw new Error(`the follower did not end caught up: ${JSON.stringify(status)}`);
    }

    // Where the time goes, from the follower control plane's own log ("applied a change from the
    // source": when its store committed the change, and how long applying it took).
    const appliedLines = follower.cp.process.lines.filter((l) => l.msg === 'applied a change from the source');
    const appliedOf = (sourceRevision: number) => appliedLines.find((l) => l['sourceRevision'] === sourceRevision);
    const deployApplied = appliedOf(deployed.result.revision);
    const changeApplied = changes.map((c) => ({ c, line: appliedOf(c.revision) })).filter((x) => x.line);
    const breakdown = [
      deployApplied ? `deploy: the follower's store applied it in ${String(deployApplied['applyMs'])} ms` : undefined,
      changeApplied.length
        ? `one-channel changes: stored on the follower p50 ${Math.round(median(changeApplied.map((x) => Number(x.line!['time']) - x.c.startedEpochMs)))} ms after the call's start (apply p50 ${median(changeApplied.map((x) => Number(x.line!['applyMs'])))} ms)`
        : undefined,
    ].filter(Boolean);
    if (breakdown.length) console.log(`breakdown (follower control plane log): ${breakdown.join('; ')}`);

    const p50 = percentile(changeMs, 50);
    const p90 = percentile(changeMs, 90);
    const ratio = followerMs / sourceMs;
    console.log(`\nMirror benchmark: ${SERVICES} services, ${SERVERS} servers per site, ${CHANGES} one-channel changes, one run${smoke ? ' (SMOKE: small, not comparable)' : ''}`);
    report(`deploy ${SERVICES} services, source servers ACKed`, sourceMs, 'ms', undefined, '(the baseline of this run)');
    report(`same deploy, follower servers ACKed`, followerMs, 'ms', { op: '<', value: round(2 * sourceMs) }, `(${round(ratio)}x the source's; target < 2x)`);
    report('one-channel change on the follower, p50', p50, 'ms', { op: '<', value: 50 }, `(p90 ${round(p90)} ms; runs ${changeMs.map((v) => Math.round(v)).join(', ')})`);
    report('same change ACKed by the source servers, p50', median(sourceChangeMs), 'ms', undefined, '(the baseline: the source site alone)');
    console.log(
      JSON.stringify({
        bench: 'mirror',
        services: SERVICES,
        source_ms: round(sourceMs, 1),
        follower_ms: round(followerMs, 1),
        small_change_p50_ms: round(p50, 1),
        small_change_p90_ms: round(p90, 1),
        ratio: round(ratio, 2),
        source_small_change_p50_ms: round(median(sourceChangeMs), 1),
        servers: SERVERS,
        changes: CHANGES,
        smoke,
      }),
    );
  } finally {
    // Followers first (it holds a link to the source), then the source; each stop removes its data
    // directory and its queue prefix's keys in the default Redis. Site B's Redis goes with its process.
    await b?.stop().catch((err: unknown) => console.error('stopping site B:', err));
    await a?.stop().catch((err: unknown) => console.error('stopping site A:', err));
    await redisB?.stop();
    await dbB?.drop().catch((err: unknown) => console.error('dropping site B database:', err));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
