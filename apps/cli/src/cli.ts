import { ApiClient } from '@laneway/api-client';
import { CLI_HINTS, cliErrorOf } from './rethrow-grpc-error';
import type { CommandContext } from './commands/command';
import { CliError, formatJsonError } from './errors';
import { applyOverrides, loadConfig, readAdminTokenFile, readTlsCa } from './load-config';
import { parseCommandLine, wantsJson } from './program';
import type { Output } from './program';
import { readSecret } from './read-secret';
import type { SecretInput } from './read-secret';

export type { Output } from './program';

export interface RunOptions {
  /** Defaults to process.env (read by loadConfig, readAdminTokenFile and the `${env:NAME}` secrets of diff and apply). */
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout: Output;
  readonly stderr: Output;
  /**
   * Where secrets are read from (a prompt when it is a terminal, else its first line); defaults to
   * process.stdin, touched only by a command that reads a secret.
   */
  readonly stdin?: SecretInput;
  /** Relative PATH arguments and LANEWAY_DATA_DIR are resolved against this; defaults to process.cwd(). */
  readonly cwd?: string;
}

/**
 * Runs one `laneway` command line (argv without the node and script paths) and resolves to the
 * exit code: 0 success, 1 error (`error: <message>` on stderr), 2 bad command line (the message, the
 * usage and a hint to `--help`). With `--json`, an error is one line on stderr instead,
 * `{"error":{"code":"NOT_FOUND","message":"…"}}` (`USAGE` for a bad command line). Never rejects.
 */
export async function run(argv: readonly string[], options: RunOptions): Promise<number> {
  const out = (text: string): void => void options.stdout.write(`${text}\n`);
  const err = (text: string): void => void options.stderr.write(`${text}\n`);

  let api: ApiClient | undefined;
  try {
    const commandLine = parseCommandLine(argv, options);
    if (commandLine.kind === 'exit') return commandLine.code;
    const { globals, command } = commandLine;
    const env = options.env ?? process.env;
    const cwd = options.cwd ?? process.cwd();
    const loaded = loadConfig(env);
    // No LANEWAY_TOKEN: on the control plane's host, the admin token it generated will do.
    const token = loaded.token ?? (await readAdminTokenFile(env, cwd));
    const config = applyOverrides(loaded, { ...globals, token });
    // LANEWAY_TLS_CA, else the CA a control plane with generated certificates published beside its token.
    const tls = await readTlsCa(config, env, cwd);
    api = new ApiClient({
      controlPlanes: config.controlPlanes,
      token: config.token,
      tls: tls && { ca: tls.ca, caFile: tls.file },
      deadlineMs: globals.deadlineMs,
      hints: CLI_HINTS,
      mapError: cliErrorOf,
    });
    const context: CommandContext = {
      api,
      config,
      json: globals.json,
      cwd,
      env,
      out,
      err,
      readSecret: (prompt) => readSecret(options.stdin ?? process.stdin, options.stderr, prompt),
    };
    return await command.run(context);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (wantsJson(argv)) {
      err(error instanceof CliError ? formatJsonError(error.code, error.detail) : formatJsonError('ERROR', message));
      return error instanceof CliError ? error.exitCode : 1;
    }
    err(`error: ${message}`);
    return error instanceof CliError ? error.exitCode : 1;
  } finally {
    api?.close();
  }
}
