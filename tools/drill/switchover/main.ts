// Drill switchover (issue 20: two-site drills): two sites of one mirrored cluster, each a control plane,
// its own store and Redis and two servers (A: embedded store, default Redis; B: PostgreSQL and a Redis
// of its own), B following A. Under steady channel GETs on all four servers, a steady stream of writes
// (CreateChannel) to the source and a 1 s interval schedule, B is promoted (planned Promote: A hands
// over, B catches up, A steps down and follows B). Proves: 0 failed GETs; every acknowledged write is
// on the new source (B) and on the old one (A, now following): 0 lost writes; every refused write was
// refused with FAILED_PRECONDITION and is on neither site; each tick ran once across both sites (no
// scheduled_at twice, none on A after B's first). Prints the handover window (how long no site took
// writes) and how long the Promote call took.
//   npm run drill -- switchover [--short]
import { MirrorRole } from '@laneway/proto';
import { SteadyLoad, sleep, type LoadResult } from '../lib/load';
import { runDrill, short } from '../lib/report';
import { roleName, startMirroredSites, until } from '../lib/sites';
import { Writer } from '../lib/writes';

const BEFORE_MS = short ? 1_500 : 10_000;
const AFTER_MS = short ? 2_500 : 10_000;
const TICK_MS = 1_000;

void runDrill('switchover', (short ? 60 : 150) * 1000, async (cleanup, lines) => {
  const { a, b } = await startMirroredSites(cleanup, { name: 'tick', intervalMs: TICK_MS });
  const started = Date.now();
  const loads = [a, b].flatMap((site) => site.names.map((server) => ({ server, load: new SteadyLoad(site.url(server, '/who'), 2) })));
  cleanup.add('stop the load', () => Promise.all(loads.map((l) => l.load.stop())).then(() => undefined));
  const writer = new Writer([a, b], { followRefusals: true });
  cleanup.add('stop the writer', () => writer.stop());
  await sleep(BEFORE_MS);

  const promoteAt = Date.now();
  const promoted = await b.api.promote(b.cluster, { address: b.linkAddress });
  const promoteMs = Date.now() - promoteAt;
  lines.push(`Promote of B (planned) returned in ${promoteMs} ms after ${BEFORE_MS} ms of load: B ${roleName(promoted.status)} at epoch ${promoted.status?.epoch}, old source following: ${promoted.oldSourceFollowing}`);
  if (promoted.status?.role !== MirrorRole.MIRROR_ROLE_SOURCE) throw new Error(`B is ${roleName(promoted.status)} after Promote, not the source`);
  if (!promoted.oldSourceFollowing) throw new Error('Promote says the old source (A) does not follow B');
  await sleep(AFTER_MS);
  await writer.stop();
  const results = await Promise.all(loads.map(async ({ server, load }) => ({ server, result: await load.stop() })));

  // Channel GETs on every server of both sites.
  const total: Omit<LoadResult, 'byServer'> = { sent: 0, ok: 0, failed: 0, failures: [] };
  for (const { server, result } of results) {
    total.sent += result.sent;
    total.ok += result.ok;
    total.failed += result.failed;
    total.failures.push(...result.failures);
    lines.push(`  ${server}: ${result.sent} GETs, ${result.failed} failed`);
  }
  lines.splice(lines.length - results.length, 0, `channel GETs on the 4 servers of both sites over ${Math.round((Date.now() - started) / 1000)} s: ${total.sent} sent, ${total.ok} ok, ${total.failed} failed`);
  for (const f of total.failures.slice(0, 10)) lines.push(`  failed GET at ${f.at - promoteAt} ms from the Promote call: ${f.status} ${f.detail}`);

  // Writes: acknowledged ones on both sites (A once it caught up with B), refused ones on neither.
  const statusA = await until('A follows B and caught up', () => a.api.mirrorStatus(a.cluster), (s) => s.role === MirrorRole.MIRROR_ROLE_FOLLOWER && s.connected && s.appliedSourceRevision === s.sourceRevision && s.lagMs === 0);
  const onB = new Set((await b.api.listChannels(b.cluster)).channels.map((c) => c.name));
  const onA = new Set((await a.api.listChannels(a.cluster)).channels.map((c) => c.name));
  const lostOnB = writer.acked.filter((w) => !onB.has(w.name));
  const lostOnA = writer.acked.filter((w) => !onA.has(w.name));
  const lost = new Set([...lostOnB, ...lostOnA].map((w) => w.name));
  const ghosts = writer.refused.filter((w) => onA.has(w.name) || onB.has(w.name));
  const ackedOn = (site: string): number => writer.acked.filter((w) => w.site === site).length;
  const window = writer.windows.length ? Math.max(...writer.windows) : 0;
  lines.push(`writes (CreateChannel): ${writer.acked.length} acknowledged (${ackedOn('A')} by A, ${ackedOn('B')} by B), ${writer.refused.length} refused with FAILED_PRECONDITION, ${writer.other.length} failed otherwise, ${lost.size} lost (${lostOnB.length} missing on B, ${lostOnA.length} on A)`);
  lines.push(`handover window (first refused write to the next acknowledged one): ${window} ms${writer.windows.length > 1 ? ` (${writer.windows.length} windows: ${writer.windows.join(', ')} ms)` : ''}`);
  const refusalKinds = new Map<string, number>();
  for (const w of writer.refused) {
    const kind = `${w.site}: ${/handing over/.test(w.details ?? '') ? 'handing over' : /read-only follower/.test(w.details ?? '') ? 'read-only follower' : w.details}`;
    refusalKinds.set(kind, (refusalKinds.get(kind) ?? 0) + 1);
  }
  for (const [kind, count] of refusalKinds) lines.push(`  refused by ${kind}: ${count}`);
  lines.push(`A after the switchover: ${roleName(statusA)} of ${statusA.sourceAddress} at epoch ${statusA.epoch}, discarded ${statusA.discarded.length}`);
  for (const w of writer.other.slice(0, 5)) lines.push(`  write ${w.name} to ${w.site} failed: code ${w.code} ${w.details}`);
  for (const w of [...lost].slice(0, 5)) lines.push(`  lost write: ${w}`);

  // Schedule ticks across both sites: each scheduled_at once, A's all before B's first.
  await until('B ran at least 2 ticks', () => b.api.listScheduleRuns(b.cluster, 'tick', 1000), (runs) => runs.filter((r) => !r.manual).length >= 2, 10_000);
  const [runsA, runsB] = await Promise.all([a.api.listScheduleRuns(a.cluster, 'tick', 10_000), b.api.listScheduleRuns(b.cluster, 'tick', 10_000)]);
  const times = [...runsA, ...runsB].filter((r) => !r.manual).map((r) => Date.parse(r.scheduledAt));
  const duplicates = times.length - new Set(times).size;
  const lastA = Math.max(...runsA.map((r) => Date.parse(r.scheduledAt)));
  const firstB = Math.min(...runsB.map((r) => Date.parse(r.scheduledAt)));
  const sorted = [...new Set(times)].sort((x, y) => x - y);
  const gaps = sorted.slice(1).map((t, i) => t - sorted[i]!);
  const skipped = gaps.reduce((n, g) => n + Math.max(0, Math.round(g / TICK_MS) - 1), 0);
  lines.push(
    `schedule ticks (every ${TICK_MS} ms): ${runsA.length} on A, ${runsB.length} on B, ${duplicates} run twice; A's last at ${lastA - promoteAt} ms, B's first at ${firstB - promoteAt} ms from the Promote call; longest gap ${Math.max(...gaps)} ms (${skipped} tick time(s) run on neither site)`,
  );

  const problems: string[] = [];
  if (writer.acked.length === 0) problems.push('no write was acknowledged');
  if (ackedOn('B') === 0) problems.push('no write was acknowledged by B after the switchover');
  if (writer.other.length) problems.push(`${writer.other.length} write(s) failed other than with FAILED_PRECONDITION`);
  if (ghosts.length) problems.push(`refused write(s) present on a site: ${ghosts.map((w) => w.name).join(', ')}`);
  if (duplicates) problems.push(`${duplicates} tick(s) ran twice`);
  if (skipped) problems.push(`${skipped} tick time(s) ran on neither site`);
  if (!(firstB > lastA)) problems.push(`A ran a tick (${new Date(lastA).toISOString()}) at or after B's first (${new Date(firstB).toISOString()})`);
  if (runsA.length === 0) problems.push('A ran no tick before the switchover');
  if (statusA.epoch !== promoted.status?.epoch) problems.push(`A is at epoch ${statusA.epoch}, B at ${promoted.status?.epoch}`);
  if (statusA.sourceAddress !== b.linkAddress) problems.push(`A follows ${statusA.sourceAddress}, not B at ${b.linkAddress}`);
  if (problems.length) throw new Error(problems.join('; '));
  return {
    sent: total.sent,
    ok: total.ok,
    failed: total.failed,
    lost: lost.size,
    duplicates,
    extra: {
      writesAcked: writer.acked.length,
      writesRefused: writer.refused.length,
      writesLost: lost.size,
      writesFailed: writer.other.length,
      handoverMs: window,
      promoteMs,
      ticksA: runsA.length,
      ticksB: runsB.length,
      ticksSkipped: skipped,
    },
  };
});
