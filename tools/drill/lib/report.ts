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
export function finish(outcome: DrillOutcome, lines: string[], error?: unknown): never {
  for (const line of lines) console.log(`  ${line}`);
  if (error) console.error(`drill ${outcome.drill} broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  console.log(
    `  sent ${outcome.sent}, ok ${outcome.ok}, failed ${outcome.failed}, lost ${outcome.lost}, duplicates ${outcome.duplicates}, in ${outcome.seconds} s`,
  );
  console.log(JSON.stringify(outcome));
  process.exit(error || outcome.failed !== 0 || outcome.lost !== 0 ? 1 : 0);
}

export const short = process.argv.includes('--short');

/** What a drill's body returns: its counts and the lines that say what happened. */
export type DrillCounts = Omit<DrillOutcome, 'drill' | 'seconds'>;

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
  } finally {
    clearTimeout(timer);
    await cleanup.runAll();
  }
  return finish({ drill, ...counts, seconds: Math.round((Date.now() - started) / 100) / 10 }, lines, error);
}
