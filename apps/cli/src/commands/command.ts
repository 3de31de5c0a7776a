import type { ApiClient } from '../api-client';
import type { CliConfig } from '../load-config';

/** What a command gets to do its work. */
export interface CommandContext {
  readonly api: ApiClient;
  readonly config: CliConfig;
  /** `--json`: print the raw response object as JSON instead of text. */
  readonly json: boolean;
  /** Relative paths (deploy's PATH arguments) are resolved against this. */
  readonly cwd: string;
  /** Writes a line to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** `--timeout MS`: MS. */
  readonly valueName?: string;
  readonly description: string;
}

export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

export interface CommandDefinition<Args> {
  /** The words that select the command: `deploy`, `cluster create`. */
  readonly name: string;
  /** Positional arguments as shown in the usage: `PATH...`. */
  readonly arguments: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Checks the command line and turns it into arguments; throws UsageError. No I/O. */
  parse(positionals: readonly string[], values: OptionValues): Args;
  /** Does the work; resolves to the exit code or throws CliError. */
  run(args: Args, context: CommandContext): Promise<number>;
}

/** A command with its argument type erased, so all of them fit in one table. */
export interface Command {
  readonly name: string;
  readonly arguments: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  prepare(positionals: readonly string[], values: OptionValues): PreparedCommand;
}

export interface PreparedCommand {
  readonly name: string;
  /** What `parse` made of the command line (for tests and debugging). */
  readonly args: unknown;
  run(context: CommandContext): Promise<number>;
}

export function defineCommand<Args>(definition: CommandDefinition<Args>): Command {
  return {
    name: definition.name,
    arguments: definition.arguments,
    summary: definition.summary,
    options: definition.options,
    prepare(positionals, values) {
      const args = definition.parse(positionals, values);
      return { name: definition.name, args, run: (context) => definition.run(args, context) };
    },
  };
}
