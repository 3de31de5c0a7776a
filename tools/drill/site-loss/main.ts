// Drill site-loss (issue 20: two-site drills): two sites of one mirrored cluster, each a control plane,
// its own store and Redis and two servers (A: embedded store, default Redis; B: PostgreSQL and a Redis
// of its own), B following A, steady channel GETs on all four servers and a steady stream of writes
// (CreateChannel) to A. The mirror link is cut (a TCP relay between the sites) and A goes on taking
// writes (changes B never sees), then every process of site A is killed (kill -9 of its control plane
// and both servers; the default Redis, shared with the rest of the machine, stays). B is promoted with
// force. Proves: B's servers never failed a GET; B takes a write within N ms of the Promote call and a
// deploy there reaches both its servers; every write A acknowledged up to the source revision B had
// applied is on B (0 lost); A's control plane, started again on its address and store, steps down,
// follows B, lists every write it took after the split as discarded and converges on B's channels; A's
// servers started again serve B's changes with 0 failed GETs.
//   npm run drill -- site-loss [--short]
import { ApplyOutcome, MirrorRole } from '@laneway/proto';
import { SteadyLoad, sleep, type LoadResult } from '../lib/load';
import { runDrill, short } from '../lib/report';
import { grpcError, roleName, startMirroredSites, until, type Site } from '../lib/sites';
import { WHO_SERVICE } from '../lib/services';
import { Writer } from '../lib/writes';

const BEFORE_MS = short ? 1_500 : 10_000;
const SPLIT_MS = short ? 500 : 3_000;
const AFTER_MS = short ? 1_500 : 10_000;

const extraService = `const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: 'drill.after', handle() { return { site: 'B' }; } });
`;

const loadOn = (site: Site): { server: string; load: SteadyLoad }[] => site.names.map((server) => ({ server, load: new SteadyLoad(site.url(server, '/who'), 2) }));
const stopAll = async (loads: { server: string; load: SteadyLoad }[]): Promise<{ server: string; result: LoadResult }[]> =>
  Promise.all(loads.map(async ({ server, load }) => ({ server, result: await load.stop() })));
const sum = (results: { result: LoadResult }[]): { sent: number; ok: number; failed: number; failures: LoadResult['failures'] } => ({
  sent: results.reduce((n, r) => n + r.result.sent, 0),
  ok: results.reduce((n, r) => n + r.result.ok, 0),
  failed: results.reduce((n, r) => n + r.result.failed, 0),
  failures: results.flatMap((r) => r.result.failures),
});

void runDrill('site-loss', (short ? 60 : 150) * 1000, async (cleanup, lines) => {
  const { a, b } = await startMirroredSites(cleanup);
  const started = Date.now();
  const loadsB = loadOn(b);
  let loadsA = loadOn(a);
  cleanup.add('stop the load', () => Promise.all([...loadsA, ...loadsB].map((l) => l.load.stop())).then(() => undefined));
  const writer = new Writer([a]);
  cleanup.add('stop the writer', () => writer.stop());
  await sleep(BEFORE_MS);

  // The split: B loses A (the link is cut); A goes on committing what B will never see.
  const cutAt = Date.now();
  a.relay.down();
  const cut = await until('B sees the link down', () => b.api.mirrorStatus(b.cluster), (s) => !s.connected);
  lines.push(`link cut after ${BEFORE_MS} ms of load; B noticed in ${Date.now() - cutAt} ms, having applied A's revision ${cut.appliedSourceRevision}`);
  await sleep(SPLIT_MS);
  await writer.stop();
  const split = await a.api.putChannel(a.cluster, { name: 'split', method: 'GET', path: '/split', service: WHO_SERVICE });
  const beforeA = sum(await stopAll(loadsA));
  lines.push(`channel GETs on A's servers before the loss: ${beforeA.sent} sent, ${beforeA.failed} failed`);

  // Site A is lost: kill -9 of its control plane and both servers.
  const lostAt = Date.now();
  await a.killAll();
  lines.push(`site A killed (control plane and 2 servers, kill -9) ${lostAt - cutAt} ms after the cut; A's last revision ${split.revision}`);
  // What B had applied of A when A was lost (a push received before the cut may still have been
  // applying when B reported the link down, so this is read now, with A gone).
  const applied = (await b.api.mirrorStatus(b.cluster)).appliedSourceRevision;
  if (applied !== cut.appliedSourceRevision) lines.push(`B's applied source revision moved from ${cut.appliedSourceRevision} to ${applied} after it reported the link down (pushes received before the cut)`);

  // Forced promote of B; then the first write there.
  const promoteAt = Date.now();
  const promoted = await b.api.promote(b.cluster, { force: true, address: b.linkAddress });
  const promoteMs = Date.now() - promoteAt;
  if (promoted.status?.role !== MirrorRole.MIRROR_ROLE_SOURCE) throw new Error(`B is ${roleName(promoted.status)} after Promote --force`);
  let writableMs = -1;
  let firstError = '';
  for (let n = 0; writableMs < 0; n++) {
    try {
      await b.api.putChannel(b.cluster, { name: `b${n}`, method: 'GET', path: '/on-b', service: WHO_SERVICE });
      writableMs = Date.now() - promoteAt;
    } catch (err) {
      firstError ||= grpcError(err).details;
      if (Date.now() - promoteAt > 20_000) throw new Error(`B took no write within 20 s of Promote --force: ${firstError}`);
      await sleep(10);
    }
  }
  lines.push(`Promote --force of B returned in ${promoteMs} ms (epoch ${promoted.status?.epoch}, old source following: ${promoted.oldSourceFollowing}); first write acknowledged by B ${writableMs} ms after the call${firstError ? ` (refused before: ${firstError})` : ''}`);
  const deployed = await b.api.deploy(b.cluster, [{ path: 'drill/after.js', content: extraService }]);
  const outcomes = deployed.servers.map((s) => `${s.server}: ${ApplyOutcome[s.outcome] ?? s.outcome}`);
  lines.push(`deploy on B: revision ${deployed.revision}; ${outcomes.join(', ')}`);
  const deployOk = deployed.servers.length === b.names.length && deployed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED);

  // Every write A acknowledged up to the revision B had applied is on B; none after it.
  const onB = new Set((await b.api.listChannels(b.cluster)).channels.map((c) => c.name));
  const kept = writer.acked.filter((w) => w.revision! <= applied);
  const afterSplit = [...writer.acked.filter((w) => w.revision! > applied).map((w) => w.name), 'split'];
  const lost = kept.filter((w) => !onB.has(w.name));
  const leaked = afterSplit.filter((name) => onB.has(name));
  lines.push(
    `writes to A: ${writer.acked.length} acknowledged (${kept.length} up to revision ${applied}, ${afterSplit.length - 1} after the split, plus 'split'), ${writer.refused.length} refused, ${writer.other.length} failed otherwise; on B: ${kept.length - lost.length} of ${kept.length} (${lost.length} lost), post-split writes on B: ${leaked.length}`,
  );

  // A's control plane comes back on its address and store: B tells it to step down.
  const backAt = Date.now();
  await a.startControlPlane();
  a.relay.up();
  const statusA = await until(
    'A follows B, caught up',
    () => a.api.mirrorStatus(a.cluster),
    (s) => s.role === MirrorRole.MIRROR_ROLE_FOLLOWER && s.connected && s.appliedSourceRevision === s.sourceRevision && s.lagMs === 0,
    30_000,
  );
  const followMs = Date.now() - backAt;
  const discarded = new Set(statusA.discarded.filter((d) => d.kind === 'channel').map((d) => d.name));
  const notListed = afterSplit.filter((name) => !discarded.has(name));
  const channelsB = (await b.api.listChannels(b.cluster)).channels.map((c) => c.name).sort();
  const channelsA = (await a.api.listChannels(a.cluster)).channels.map((c) => c.name).sort();
  const converged = JSON.stringify(channelsA) === JSON.stringify(channelsB);
  lines.push(
    `A's control plane back: ${roleName(statusA)} of ${statusA.sourceAddress} at epoch ${statusA.epoch} within ${followMs} ms; discarded ${statusA.discarded.length} change(s) (${afterSplit.length - notListed.length} of the ${afterSplit.length} post-split writes listed); channels ${converged ? 'the same as B' : 'DIFFERENT from B'} (${channelsA.length})`,
  );

  // A's servers back (on new ports: nothing in front of them to keep right): they serve B's state
  // (B's first write, not the post-split channel) and take load again.
  await Promise.all(a.names.map((server) => a.startServer(server, true)));
  for (const server of a.names) {
    await until(`${server} serves B's write`, () => fetch(a.url(server, '/on-b'), { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0), (s) => s === 200);
    await until(`${server} drops the post-split channel`, () => fetch(a.url(server, '/split'), { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0), (s) => s === 404);
  }
  loadsA = loadOn(a);
  await sleep(AFTER_MS);
  const afterA = sum(await stopAll(loadsA));
  const onBServers = await stopAll(loadsB);
  const totalB = sum(onBServers);
  lines.push(`channel GETs on A's servers started again: ${afterA.sent} sent, ${afterA.failed} failed`);
  lines.push(`channel GETs on B's servers throughout (${Math.round((Date.now() - started) / 1000)} s): ${totalB.sent} sent, ${totalB.failed} failed`);
  for (const { server, result } of onBServers) lines.push(`  ${server}: ${result.sent} GETs, ${result.failed} failed`);
  for (const f of [...totalB.failures, ...afterA.failures].slice(0, 10)) lines.push(`  failed GET at ${f.at - lostAt} ms from the loss: ${f.status} ${f.detail}`);

  const problems: string[] = [];
  if (beforeA.failed) problems.push(`${beforeA.failed} GET(s) on A's servers failed before the loss`);
  if (!deployOk) problems.push(`the deploy on B did not reach both its servers: ${outcomes.join(', ')}`);
  if (kept.length === 0) problems.push('no write was acknowledged and applied by B before the split');
  if (afterSplit.length < 2) problems.push('A took no write from the writer after the split');
  if (writer.other.length) problems.push(`${writer.other.length} write(s) to A failed (${writer.other[0]!.details})`);
  if (writer.refused.length) problems.push(`${writer.refused.length} write(s) to A refused before the loss (${writer.refused[0]!.details})`);
  if (leaked.length) problems.push(`post-split write(s) on B: ${leaked.join(', ')}`);
  if (notListed.length) problems.push(`post-split write(s) not listed as discarded by A: ${notListed.slice(0, 10).join(', ')}`);
  if (!converged) problems.push(`A's channels differ from B's: A ${channelsA.length}, B ${channelsB.length}`);
  if (statusA.epoch !== promoted.status?.epoch) problems.push(`A at epoch ${statusA.epoch}, B at ${promoted.status?.epoch}`);
  if (problems.length) throw new Error(problems.join('; '));
  return {
    sent: totalB.sent + beforeA.sent + afterA.sent,
    ok: totalB.ok + beforeA.ok + afterA.ok,
    failed: totalB.failed + beforeA.failed + afterA.failed,
    lost: lost.length,
    duplicates: 0,
    extra: {
      failedOnB: totalB.failed,
      writesAcked: writer.acked.length,
      writesKept: kept.length,
      writesLost: lost.length,
      discarded: statusA.discarded.length,
      promoteMs,
      writableMs,
      followMs,
    },
  };
});
