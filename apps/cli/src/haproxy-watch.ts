/**
 * `laneway lb haproxy --watch`: one poll at a time, the control plane's state to the file to the
 * reload. Everything it touches comes in through WatchDeps, so a test can give it a checker that
 * refuses or a control plane that is gone.
 */
import { readFileSync } from 'node:fs';
import { configChanges, sameConfig } from './haproxy-changes';
import type { WriteResult } from './haproxy-file';
import type { ReloadResult } from './haproxy-runtime';

export interface WatchDeps {
  /** The configuration text from the control plane's state now; rejects when it cannot be had. */
  generate(): Promise<string>;
  /** The file to keep current (absolute). */
  readonly file: string;
  /** writeChecked, with `haproxy -c` as its checker outside tests. */
  write(file: string, text: string): WriteResult;
  /** Saves HAProxy's server states before a reload; rejects when the stats socket cannot be reached. */
  saveState(): Promise<void>;
  /** Runs the reload command; undefined: no --reload-cmd. */
  readonly reload: (() => Promise<ReloadResult>) | undefined;
  /** A line on stderr. */
  log(line: string): void;
}

/** Whether an error from generate() means the control plane is out of reach (retried quietly) rather than refusing. */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** What the poll did, for tests: nothing changed, the file was rewritten (and reloaded or not), or it could not be. */
export type PollOutcome = 'unchanged' | 'written' | 'refused' | 'unreachable' | 'failed';

export class HaproxyWatch {
  /** The text haproxy -c last refused: not checked (nor reported) again until the state moves on. */
  private refused: string | undefined;
  /** The message of the failure reported last (an outage, a refused call); cleared once a poll gets through. */
  private failure: string | undefined;
  /** The same for reading or writing the file. */
  private fileFailure: string | undefined;
  private socketWarned = false;

  constructor(private readonly deps: WatchDeps) {}

  /**
   * One poll. Everything that goes wrong is reported on stderr and retried at the next poll, except,
   * with `strict` (the first poll), what retrying would not mend (an unknown cluster, a bad token, a
   * file that cannot be written): that rejects with the reason.
   */
  async poll(strict = false): Promise<PollOutcome> {
    const { deps } = this;
    let text: string;
    try {
      text = await deps.generate();
    } catch (err) {
      const reason = message(err);
      const unreachable = isUnreachable(err);
      if (strict && !unreachable) throw err;
      if (this.failure !== reason) {
        deps.log(unreachable ? `${reason}; ${deps.file} kept as it is, retrying` : `${reason}; retrying`);
        this.failure = reason;
      }
      return unreachable ? 'unreachable' : 'failed';
    }
    if (this.failure !== undefined) {
      deps.log('the control plane answers again');
      this.failure = undefined;
    }
    let current: string;
    try {
      current = readOrEmpty(deps.file);
    } catch (err) {
      return this.fileFailed(`cannot read ${deps.file}: ${message(err)}`, strict);
    }
    if (sameConfig(current, text)) {
      this.refused = undefined;
      return 'unchanged';
    }
    if (text === this.refused) return 'refused';
    for (const change of configChanges(current, text)) deps.log(change);
    let written: WriteResult;
    try {
      written = deps.write(deps.file, text);
    } catch (err) {
      return this.fileFailed(`cannot write beside ${deps.file}: ${message(err)}`, strict);
    }
    this.fileFailure = undefined;
    if (written.kind === 'refused') {
      this.refused = text;
      deps.log(
        `haproxy -c refused the new configuration, so ${deps.file} was left as it was and HAProxy not reloaded:\n${written.output}`,
      );
      return 'refused';
    }
    this.refused = undefined;
    deps.log(
      written.kind === 'unchecked'
        ? `wrote ${deps.file} (unchecked: haproxy is not installed here)`
        : `wrote ${deps.file}`,
    );
    if (deps.reload) await this.reload(deps.reload);
    return 'written';
  }

  private fileFailed(reason: string, strict: boolean): PollOutcome {
    if (strict) throw new Error(reason);
    if (this.fileFailure !== reason) this.deps.log(`${reason}; retrying`);
    this.fileFailure = reason;
    return 'failed';
  }

  private async reload(reload: () => Promise<ReloadResult>): Promise<void> {
    try {
      await this.deps.saveState();
      this.socketWarned = false;
    } catch (err) {
      if (!this.socketWarned) {
        this.deps.log(
          `server states not saved before the reload (${message(err)}): drain and down states start afresh; said once until the stats socket answers`,
        );
        this.socketWarned = true;
      }
    }
    const result = await reload();
    const how =
      result.error !== undefined
        ? `could not start: ${result.error}`
        : result.signal
          ? `signal ${result.signal}`
          : `exit ${result.code}`;
    const ok = result.code === 0;
    this.deps.log(
      `${ok ? 'reloaded' : 'reload failed'} (${how})${result.stderr ? `: ${result.stderr}` : ''}`,
    );
  }
}
