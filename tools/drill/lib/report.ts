import type { AppProcess } from '@laneway/testkit';
import { Cleanup } from './cleanup';

export interface DrillOutcome {
  drill: string;
  sent: number;
  ok: number;
  failed: number;
  lost: number;
  duplicates: number;
  seconds: number;
}

/**
 * Prints what the drill sent, what succeeded, failed and was lost, then the one JSON line; the exit
 * code is 1 when anything failed or was lost (or the drill itself broke: `error`).
 */
export function finish(outcome: DrillOutcome, lines: string[], error?: unknown, extra: Record<string, number | string> = {}): never {
  for (const line of lines) console.log(`  ${line}`);
  if (error) {
    console.error(`drill ${outcome.drill} broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    // A typed API error keeps grpc-js's own error as its cause: its details say how the call failed.
    const cause = error instanceof Error ? (error.cause as { code?: unknown; details?: unknown } | undefined) : undefined;
    if (cause && typeof cause === 'object') console.error(`  caused by: code ${String(cause.code)}, details ${JSON.stringify(cause.details)}`);
  }
  console.log(
    `  sent ${outcome.sent}, ok ${outcome.ok}, failed ${outcome.failed}, lost ${outcome.lost}, duplicates ${outcome.duplicates}, in ${outcome.seconds} s`,
  );
  // A drill's own figures (e.g. the two-site drills' writes) go before "seconds".
  const { seconds, ...counts } = outcome;
  console.log(JSON.stringify({ ...counts, ...extra, seconds }));
  process.exit(error || outcome.failed !== 0 || outcome.lost !== 0 ? 1 : 0);
}

export const short = process.argv.includes('--short');

/**
 * The last `lines` lines each process printed (stdout and stderr), for a failure report; a process
 * that has exited says so, with its code or signal (one the drill killed reads SIGKILL).
 */
export function outputTail(processes: readonly (AppProcess | undefined)[], lines = 30): string {
  return processes
    .flatMap((p) => {
      if (!p) return [];
      const tail = p.output.slice(-lines).map((l) => `${p.name}: ${l}`);
      if (!p.alive) tail.push(`${p.name}: exited (code ${p.child.exitCode}, signal ${p.child.signalCode})`);
      return tail;
    })
    .join('\n');
}

/** What a drill's body returns: its counts and the lines that say what happened. */
export type DrillCounts = Omit<DrillOutcome, 'drill' | 'seconds'> & { extra?: Record<string, number | string> };

/**
 * Runs a drill's body within `limitMs`, then its cleanup (always: on success, failure, timeout or
 * Ctrl-C), then prints the outcome and exits.
 */
export async function runDrill(
  drill: string,
  limitMs: number,
  body: (cleanup: Cleanup, lines: string[]) => Promise<DrillCounts>,
): Promise<never> {
  const cleanup = new Cleanup();
  const started = Date.now();
  const lines: string[] = [];
  let counts: DrillCounts = { sent: 0, ok: 0, failed: 0, lost: 0, duplicates: 0 };
  let error: unknown;
  const onSignal = (): void => {
    void cleanup.runAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let timer: NodeJS.Timeout | undefined;
  try {
    counts = await Promise.race([
      body(cleanup, lines),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the drill took over its limit of ${limitMs / 1000} s`)), limitMs);
      }),
    ]);
  } catch (err) {
    error = err;
    const reports = cleanup.failureReports();
    if (reports) console.error(reports);
  } finally {
    clearTimeout(timer);
    await cleanup.runAll();
  }
  const { extra, ...base } = counts;
  return finish({ drill, ...base, seconds: Math.round((Date.now() - started) / 100) / 10 }, lines, error, extra);
}
