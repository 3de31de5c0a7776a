// Drill control-plane-loss (issue 20): two control planes on one PostgreSQL database, three servers
// given both (LANEWAY_CONTROL_PLANE=cp1,cp2) behind HAProxy. Under a steady load of channel GETs, cp1
// is killed (kill -9). Proves: channels keep answering (0 failed); every server moves to cp2 and a
// deploy through cp2 reaches all of them (ACKED); cp1 started again sees the same state, and no
// revision goes backwards (the cluster's, each server's applied one, a deploy through cp1 after it).
//   npm run drill -- control-plane-loss [--short]
import { ApplyOutcome } from '@laneway/proto';
import { createTestDatabase, type Api } from '@laneway/testkit';
import { DrillCluster } from '../lib/cluster';
import { SteadyLoad, sleep } from '../lib/load';
import { runDrill, short } from '../lib/report';

const BEFORE_MS = short ? 1_000 : 10_000;
const AFTER_MS = short ? 1_000 : 10_000;

const extraService = (n: number): { path: string; content: string } => ({
  path: 'drill/extra.js',
  content: `const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: 'drill.extra', handle() { return { n: ${n} }; } });
`,
});

void runDrill('control-plane-loss', (short ? 60 : 180) * 1000, async (cleanup, lines) => {
  const db = await createTestDatabase();
  cleanup.add('drop the database', () => db.drop());
  const c = await DrillCluster.start({ servers: 3, controlPlanes: 2, databaseUrl: db.url }, cleanup);
  const [cp1, cp2] = [c.apis[0]!, c.apis[1]!];
  /** Every revision seen so far, per source ("cluster", "s1", ...), in order: none may go down. */
  const seen = new Map<string, number[]>();
  const note = (what: string, revision: number): void => {
    const list = seen.get(what) ?? [];
    list.push(revision);
    seen.set(what, list);
  };
  const sample = async (api: Api): Promise<void> => {
    const status = await api.deploymentStatus(c.cluster);
    note('cluster', Number(status.desiredRevision));
    for (const s of status.servers) note(s.server, Number(s.appliedRevision));
  };
  const load = new SteadyLoad(`http://127.0.0.1:${c.haproxy.port}/who`);
  const started = Date.now();
  await sleep(BEFORE_MS);
  await sample(cp1);
  await sample(cp2);

  const killedAt = Date.now();
  await c.cps[0]!.process.kill9();
  lines.push(`killed cp1 (kill -9) after ${BEFORE_MS} ms of load`);
  // Every server opened its sync stream to cp2 (its log says so): they moved.
  const [cp1Address, cp2Address] = [c.cpAddresses[0]!, c.cpAddresses[1]!];
  const streamTo = (name: string): string[] =>
    c.server(name).lines.filter((l) => l.msg === 'sync stream open').map((l) => String(l['address']));
  const onCp1 = c.names.filter((name) => streamTo(name).at(-1) === cp1Address);
  lines.push(`before the kill, on cp1: ${onCp1.join(', ') || 'none'}`);
  if (onCp1.length !== c.names.length) throw new Error(`not every server was on cp1 before the kill: ${JSON.stringify(c.names.map(streamTo))}`);
  await Promise.all(c.names.map((name) => c.server(name).waitForLog((l) => l.msg === 'sync stream open' && l['address'] === cp2Address, 30_000)));
  lines.push(`all ${c.names.length} servers opened their sync stream to cp2 within ${Date.now() - killedAt} ms of the kill`);
  const deployed = await cp2.deploy(c.cluster, [extraService(1)]);
  const outcomes = deployed.servers.map((s) => `${s.server}: ${ApplyOutcome[s.outcome] ?? s.outcome}`);
  lines.push(`deploy through cp2: revision ${deployed.revision}; ${outcomes.join(', ')}`);
  if (deployed.servers.length !== c.names.length || deployed.servers.some((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED)) {
    throw new Error(`the deploy through cp2 did not reach every server: ${outcomes.join(', ')}`);
  }
  note('deploy', Number(deployed.revision));
  await sample(cp2);

  await c.startControlPlane(0);
  lines.push(`cp1 started again ${Date.now() - killedAt} ms after the kill`);
  await sample(cp1);
  await sample(cp2);
  // A deploy through cp1 after its restart gets a higher revision, and reaches every server (they
  // stay on cp2; the change reaches them through the database's change feed).
  const again = await cp1.deploy(c.cluster, [extraService(2)]);
  const againOutcomes = again.servers.map((s) => `${s.server}: ${ApplyOutcome[s.outcome] ?? s.outcome}`);
  lines.push(`deploy through the restarted cp1: revision ${again.revision}; ${againOutcomes.join(', ') || 'no server reported'}`);
  note('deploy', Number(again.revision));
  await sleep(AFTER_MS);
  await sample(cp1);
  await sample(cp2);
  const result = await load.stop();

  lines.push(`channel GETs through HAProxy over ${Math.round((Date.now() - started) / 1000)} s: ${result.sent} sent, ${result.ok} ok, ${result.failed} failed; per server ${JSON.stringify(result.byServer)}`);
  for (const f of result.failures) lines.push(`  failed GET at +${f.at - killedAt} ms from the kill: ${f.status} ${f.detail}`);
  const backwards: string[] = [];
  for (const [what, list] of seen) {
    lines.push(`revisions seen for ${what}: ${list.join(' ')}`);
    if (list.some((r, i) => i > 0 && r < list[i - 1]!)) backwards.push(what);
  }
  if (backwards.length) throw new Error(`a revision went backwards for ${backwards.join(', ')}`);
  const last = seen.get('cluster')!.at(-1)!;
  for (const name of c.names) {
    if (seen.get(name)!.at(-1)! !== last) throw new Error(`${name} ended on revision ${seen.get(name)!.at(-1)}, not the cluster's ${last}`);
  }
  return { sent: result.sent, ok: result.ok, failed: result.failed, lost: 0, duplicates: 0 };
});
