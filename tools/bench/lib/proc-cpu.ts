import { readdirSync, readFileSync } from 'node:fs';

// Linux's clock ticks per second, in which /proc/<pid>/stat counts CPU time (USER_HZ, 100 on x86-64 and arm64).
const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat; undefined where
 * there is no /proc. Per request or call, it says what each process spends whatever the scheduler does
 * with the waits, which moves rates between runs on this 2-vCPU VM far more than it moves CPU time.
 */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the state, field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * The same for a process and every process under it (read from /proc/<pid>/task/<tid>/children): a
 * script run through tsx's command is a child of the process that was spawned.
 */
export function treeCpuSecondsOf(pid: number | undefined): number | undefined {
  const own = cpuSecondsOf(pid);
  if (own === undefined) return undefined;
  let total = own;
  for (const child of childrenOf(pid!)) total += treeCpuSecondsOf(child) ?? 0;
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}
