import { spawn } from 'node:child_process';

// Each burner also stops once its parent is gone (a killed bench leaves no spinning process) or after 60 s.
const BURNER = `const parent = process.ppid, until = Date.now() + 60000; let x = 0;
for (;;) { for (let i = 0; i < 1e6; i++) x += Math.sqrt(x + 1); if (process.ppid !== parent || Date.now() > until) process.exit(0); }`;
/** How long the burners run before `measure` starts (they are busy by then). */
const WARM_MS = 400;

/**
 * Runs `measure` while `count` processes outside Laneway burn CPU under SCHED_IDLE (what the CPU lane's
 * threads run under): busy cores and no Laneway work, the machine's floor for a latency ratio under CPU
 * load. The burners are killed when it ends.
 */
export async function withBurners<T>(count: number, measure: () => Promise<T>): Promise<T> {
  const burners = Array.from({ length: count }, () => spawn('chrt', ['-i', '0', process.execPath, '-e', BURNER], { stdio: 'ignore' }));
  try {
    await new Promise((r) => setTimeout(r, WARM_MS));
    return await measure();
  } finally {
    for (const b of burners) b.kill('SIGKILL');
  }
}
