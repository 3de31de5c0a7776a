// npm run bench -- NAME [--smoke]   (NAME: deploy, invoke, lanes, http, connections, mirror, fleet, or all)
// Builds the apps, then runs each benchmark in its own process, one after the other (never two at
// once: the machine has 2 cores and a benchmark beside another measures nothing).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const BENCHES = ['deploy', 'invoke', 'lanes', 'http', 'connections', 'mirror', 'fleet'];
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const selected = names.length === 0 || names.includes('all') ? BENCHES : names;
const unknown = selected.filter((n) => !BENCHES.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHES.join(', ')} or all`);
  process.exit(2);
}

const run = (cmd, argv, extraEnv = {}) =>
  spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } }).status ?? 1;

if (run(path.join(root, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--projects=control-plane,server,cli', '--output-style=static']) !== 0) {
  process.exit(1);
}
// Laneway processes left over from an earlier run (a test or script killed before its cleanup) take
// CPU and Redis connections beside the benchmark and skew what it measures.
const strays = readdirSync('/proc')
  .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
  .map((pid) => {
    try {
      return { pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() };
    } catch {
      return undefined;
    }
  })
  .filter((p) => p && /dist\/apps\/(control-plane|server)\/main\.js/.test(p.cmd));
if (strays.length) {
  console.warn(`WARNING: ${strays.length} Laneway process(es) already running; figures measured beside them are skewed:`);
  for (const p of strays) console.warn(`  ${p.pid} ${p.cmd}`);
}
let failed = 0;
for (const name of selected) {
  console.log(`\n== bench ${name}${flags.length ? ` ${flags.join(' ')}` : ''}`);
  const status = run(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'tools/bench', name, 'main.ts'), ...flags]);
  if (status !== 0) {
    console.error(`bench ${name} failed with exit code ${status}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
