/**
 * Errors the CLI reports to the user: `run` prints `error: <message>` (no stack trace) and exits with
 * `exitCode`. Anything else that escapes a command is reported the same way with exit code 1. (A bad
 * command line is commander's to report, with exit code 2: see program.ts.)
 */
export class CliError extends Error {
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
