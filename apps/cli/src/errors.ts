/**
 * Errors the CLI reports to the user: `run` prints `error: <message>` (no stack trace) and exits with
 * `exitCode`. Anything else that escapes a command is reported the same way with exit code 1.
 */
export class CliError extends Error {
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad command line: exit code 2, and the usage is printed after the message. */
export class UsageError extends CliError {
  override readonly exitCode: number = 2;

  constructor(
    message: string,
    /** The command the usage is about (`deploy`, `cluster create`), when it is known. */
    readonly command?: string,
  ) {
    super(message);
  }
}
