/**
 * Errors the CLI reports to the user: `run` prints `error: <message>` (no stack trace), or with
 * `--json` a JSON object (formatJsonError), and exits with `exitCode` (1 unless told otherwise). Anything else that escapes a command is reported the same way
 * with exit code 1. (A bad command line is commander's to report, with exit code 2: see program.ts.)
 */
export class CliError extends Error {
  readonly exitCode: number;
  /**
   * What `--json` reports as `error.code`: the gRPC status name (`NOT_FOUND`) when the control plane
   * refused the call; else `USAGE` with exit code 2 (the command line was not enough), `ERROR` otherwise.
   */
  readonly code: string;
  /** The message without its `<STATUS>: ` prefix, for `--json` (which gives the code apart). */
  readonly detail: string;

  constructor(message: string, options?: { cause?: unknown; exitCode?: number; code?: string; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options?.exitCode ?? 1;
    this.code = options?.code ?? (this.exitCode === 2 ? 'USAGE' : 'ERROR');
    this.detail = options?.detail ?? message;
  }
}

/**
 * An error as `--json` prints it on stderr, one line: `{"error":{"code":"NOT_FOUND","message":"…"}}`.
 * A bad command line has the code `USAGE`.
 */
export function formatJsonError(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * A command line that commander accepted but the command's `parse` refuses (a rule commander cannot
 * express, such as "exactly one of --a or --b"). program.ts reports it as commander reports its own:
 * `error: <message>`, the usage and a hint to `--help`, exit 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
