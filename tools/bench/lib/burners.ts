import { spawn } from 'node:child_process';

// Each burner also stops once its parent is gone (a killed bench leaves no spinning process) or after 60 s.
const BURNER = `const parent = process.ppid, until = Date.now() + 60000; let x = 0;
for (;;) { for (let i = 0; i < 1e6; i++) x += Math.sqrt(x + 1); if (process.ppid !== parent || Date.now() > until) process.exit(0); }`;

/**
 * Starts `count` processes outside Laneway that burn CPU under SCHED_IDLE (what the CPU lane's threads
 * run under): busy cores and no Laneway work, the machine's floor for a latency ratio under CPU load.
 * Returns the function that stops them.
 */
export function startBurners(count: number): () => void {
  const burners = Array.from({ length: count }, () => spawn('chrt', ['-i', '0', process.execPath, '-e', BURNER], { stdio: 'ignore' }));
  return () => {
    for (const b of burners) b.kill('SIGKILL');
  };
}
