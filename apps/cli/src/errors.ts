/**
 * Errors the CLI reports to the user: `run` prints `error: <message>` (no stack trace) and exits with
 * `exitCode` (1 unless told otherwise). Anything else that escapes a command is reported the same way
 * with exit code 1. (A bad command line is commander's to report, with exit code 2: see program.ts.)
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options?.exitCode ?? 1;
  }
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
