// Drill site-loss (issue 20: two-site drills): two sites of one mirrored cluster, each a control plane,
// its own store and Redis and two servers (A: embedded store, default Redis; B: PostgreSQL and a Redis
// of its own), B following A, one real HAProxy in front of all four servers (its configuration written
// by the built CLI, `laneway lb haproxy CLUSTER_A --site CLUSTER_B@B --site-token-file FILE`), steady
// channel GETs through it and a steady stream of writes (CreateChannel) to A. The mirror link is cut (a
// TCP relay between the sites) and A goes on taking writes (changes B never sees), then every process
// of site A is killed (kill -9 of its control plane and both servers; the default Redis, shared with
// the rest of the machine, stays). B is promoted with force. Proves: 0 GETs through HAProxy failed over
// the whole drill, except (HAProxy's retries not covering the instant of the kill) within the window
// until HAProxy's health checks took both of A's servers out, counted apart; B takes a write within N ms
// of the Promote call and a deploy there reaches both its servers; every write A acknowledged up to the
// source revision B had applied is on B (0 lost); A's control plane, started again on its address and
// store, steps down, follows B, lists every write it took after the split as discarded and converges on
// B's channels; A's servers started again (on their ports, so HAProxy's configuration stays right) serve
// B's changes, are back in HAProxy's rotation and answer GETs through it, 0 failed.
//   npm run drill -- site-loss [--short]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplyOutcome, MirrorRole } from '@laneway/proto';
import { ADMIN_TOKEN } from '@laneway/testkit';
import { Haproxy } from '../lib/haproxy';
import { SteadyLoad, sleep } from '../lib/load';
import { runDrill, short } from '../lib/report';
import { grpcError, roleName, startMirroredSites, until, type Site } from '../lib/sites';
import { WHO_SERVICE } from '../lib/services';
import { Writer } from '../lib/writes';

const BEFORE_MS = short ? 1_500 : 10_000;
const SPLIT_MS = short ? 500 : 3_000;
const AFTER_MS = short ? 1_000 : 10_000;

const extraService = `const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: 'drill.after', handle() { return { site: 'B' }; } });
`;

/** Answers per server between two snapshots of the load's `byServer`. */
const answered = (from: Record<string, number>, to: Record<string, number>, servers: string[]): Record<string, number> =>
  Object.fromEntries(servers.map((server) => [server, (to[server] ?? 0) - (from[server] ?? 0)]));
const total = (counts: Record<string, number>): number => Object.values(counts).reduce((n, c) => n + c, 0);

void runDrill('site-loss', (short ? 60 : 150) * 1000, async (cleanup, lines) => {
  const { a, b } = await startMirroredSites(cleanup);
  // One HAProxy over the four servers: site A's cluster on A's control plane, site B's through --site
  // (both control planes take the testkit's admin token). Its files go in B's temp dir (B stays up).
  const tokenFile = path.join(b.dir, 'site-b.token');
  writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
  const haproxy = await Haproxy.start(b.dir, { LANEWAY_CONTROL_PLANE: a.cpAddress, LANEWAY_TOKEN: ADMIN_TOKEN, LANEWAY_CLUSTER: a.cluster }, cleanup, [
    a.cluster,
    '--site',
    `${b.cluster}@${b.cpAddress}`,
    '--site-token-file',
    tokenFile,
  ]);
  // HAProxy's names for the servers: SITE:CLUSTER:SERVER, SITE the first address of its control plane.
  const lbName = (site: Site, server: string): string => `${site.cpAddress}:${site.cluster}:${server}`;
  const servers = [...a.names, ...b.names];
  const started = Date.now();
  const load = new SteadyLoad(`http://127.0.0.1:${haproxy.port}/who`, 8);
  cleanup.add('stop the load', () => load.stop().then(() => undefined));
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
  const beforeLoss = { ...load.counts.byServer };
  const failedBeforeLoss = load.counts.failed;
  lines.push(`channel GETs through HAProxy before the loss: ${load.counts.sent} sent, ${failedBeforeLoss} failed; answered per server ${JSON.stringify(beforeLoss)}`);

  // Site A is lost: kill -9 of its control plane and both servers; HAProxy's checks take them out.
  const lostAt = Date.now();
  await a.killAll();
  lines.push(`site A killed (control plane and 2 servers, kill -9) ${lostAt - cutAt} ms after the cut; A's last revision ${split.revision}`);
  // The health-check window: until HAProxy has reported both of A's servers DOWN (awaited before A
  // comes back; B is promoted meanwhile).
  const aOut = Promise.all(a.names.map((server) => haproxy.waitFor(lbName(a, server), 'DOWN', 10_000))).then(() => Date.now() - lostAt);
  aOut.catch(() => undefined);
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

  const windowMs = await aOut;

  // Site A comes back, all of it at once: its control plane on its address and store (B tells it to
  // step down) and its servers on their ports (HAProxy's configuration stays right).
  const backAt = Date.now();
  const serversBack = Promise.all(a.names.map((server) => a.startServer(server)));
  serversBack.catch(() => undefined);
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

  // A's servers serve B's state (B's first write, not the post-split channel), HAProxy's checks have
  // put them back, and they take load again.
  await serversBack;
  for (const server of a.names) {
    await until(`${server} serves B's write`, () => fetch(a.url(server, '/on-b'), { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0), (s) => s === 200);
    await until(`${server} drops the post-split channel`, () => fetch(a.url(server, '/split'), { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0), (s) => s === 404);
  }
  await Promise.all(a.names.map((server) => haproxy.waitFor(lbName(a, server), 'UP', 15_000)));
  const returnedAt = Date.now();
  const atReturn = { ...load.counts.byServer };
  lines.push(`A's servers started again on their ports, serving B's state and back in HAProxy's rotation ${returnedAt - backAt} ms after A's control plane was started again`);
  await sleep(AFTER_MS);
  const result = await load.stop();
  const failedAfterReturn = load.failedAt.filter((at) => at >= returnedAt).length;
  const byAAfterReturn = answered(atReturn, result.byServer, a.names);
  const windowEnd = lostAt + windowMs;
  const failedInWindow = load.failedAt.filter((at) => at >= lostAt && at <= windowEnd).length;
  const failedOutside = result.failed - failedInWindow;
  lines.push(
    `channel GETs through HAProxy throughout (${Math.round((Date.now() - started) / 1000)} s): ${result.sent} sent, ${result.ok} ok, ${result.failed} failed; answered per server ${JSON.stringify(result.byServer)}`,
  );
  lines.push(`HAProxy took both of A's servers out ${windowMs} ms after the kill; failed within ${windowMs} ms of the kill: ${failedInWindow}; after: ${load.failedAt.filter((at) => at > windowEnd).length}; before: ${load.failedAt.filter((at) => at < lostAt).length}`);
  lines.push(
    `answered by B's servers while A was out: ${total(answered(beforeLoss, atReturn, b.names))}; by A's servers after their return (${AFTER_MS} ms): ${JSON.stringify(byAAfterReturn)}, ${failedAfterReturn} failed`,
  );
  for (const f of result.failures.slice(0, 10)) lines.push(`  failed GET at ${f.at - lostAt} ms from the loss: ${f.status} ${f.detail}`);
  if (result.failed > result.failures.length) lines.push(`  (${result.failed - result.failures.length} more failed GET(s) not listed)`);
  // HAProxy's own log of those requests (status, termination state: e.g. SH-- a server that closed mid-request).
  if (result.failed) for (const line of haproxy.abnormal.slice(0, 10)) lines.push(`  haproxy: ${line}`);

  const problems: string[] = [];
  if (failedOutside) problems.push(`${failedOutside} GET(s) through HAProxy failed outside the ${windowMs} ms after the kill`);
  for (const server of servers) if (!beforeLoss[server]) problems.push(`${server} answered no GET through HAProxy before the loss`);
  if (total(byAAfterReturn) === 0) problems.push(`A's servers answered no GET through HAProxy after their return`);
  for (const server of a.names) if (!byAAfterReturn[server]) problems.push(`${server} answered no GET through HAProxy after its return`);
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
    sent: result.sent,
    ok: result.ok,
    // The failures within the health-check window after the kill are counted apart (failedInWindow).
    failed: failedOutside,
    lost: lost.length,
    duplicates: 0,
    extra: {
      failedInWindow,
      windowMs,
      answeredByAAfterReturn: total(byAAfterReturn),
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
