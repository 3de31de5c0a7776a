// npm run drill -- NAME|all [--short]   (NAME: server-kill, rolling-restart, redis-restart, control-plane-loss, switchover, site-loss)
// Failure drills (issue 20): real control planes, servers, Redis, PostgreSQL and HAProxy; each drill
// ends with one JSON line {"drill","sent","ok","failed","lost","duplicates","seconds"} and fails when
// anything failed or was lost. Builds the apps once, then runs the drills one after the other (never
// two at once: a drill beside another measures the machine, not the failure). switchover and site-loss
// run two mirrored sites (issue 19) and add their own figures (writes, handover, promote) to that line.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const DRILLS = ['server-kill', 'rolling-restart', 'redis-restart', 'control-plane-loss', 'switchover', 'site-loss'];
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const usage = `usage: npm run drill -- NAME|all [--short]; NAME: ${DRILLS.join(', ')}`;
const unknownFlags = flags.filter((f) => f !== '--short');
if (names.length === 0 || unknownFlags.length) {
  console.error(usage);
  process.exit(2);
}
const selected = names.includes('all') ? DRILLS : names;
const unknown = selected.filter((n) => !DRILLS.includes(n));
if (unknown.length) {
  console.error(`unknown drill(s): ${unknown.join(', ')}\n${usage}`);
  process.exit(2);
}

const run = (cmd, argv) => spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' }).status ?? 1;

const started = Date.now();
if (run(path.join(root, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--projects=control-plane,server,cli', '--output-style=static']) !== 0) {
  process.exit(1);
}
const failed = [];
for (const name of selected) {
  console.log(`\n== drill ${name}${flags.length ? ` ${flags.join(' ')}` : ''}`);
  if (run(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'tools/drill', name, 'main.ts'), ...flags]) !== 0) failed.push(name);
}
console.log(`\ndrills: ${selected.length - failed.length} of ${selected.length} passed in ${Math.round((Date.now() - started) / 1000)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
