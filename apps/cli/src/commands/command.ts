import type { Argument, Option } from 'commander';
import type { ApiClient } from '@laneway/api-client';
import type { CliConfig } from '../load-config';

/** What a command gets to do its work. */
export interface CommandContext {
  readonly api: ApiClient;
  readonly config: CliConfig;
  /** `--json`: print the raw response object as JSON instead of text. */
  readonly json: boolean;
  /** Relative paths (deploy's PATH arguments) are resolved against this. */
  readonly cwd: string;
  /** The CLI's environment (process.env unless a test gives one): where `${env:NAME}` secrets come from. */
  readonly env: NodeJS.ProcessEnv;
  /** Writes a line to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
  /**
   * A secret: typed at `prompt` (on stderr) with echo off when stdin is a terminal, else the first
   * line of stdin, without its newline. '' when none was given.
   */
  readSecret(prompt: string): Promise<string>;
}

/**
 * A command's flags as commander parsed them (after their parsers ran), by attribute name: `--data`
 * is `data`, `--no-wait` is `wait` (false when given). Read them with the helpers in option-values.
 */
export type OptionValues = Readonly<Record<string, unknown>>;

export interface CommandDefinition<Args> {
  /** The word that selects the command: `deploy`; in a group, the word after the group's: `create`. */
  readonly name: string;
  readonly summary: string;
  /** Positional arguments in order, as commander declares them: `NAME`, `PATH...`, `[NAME]`. */
  readonly arguments: readonly Argument[];
  /** The command's own flags; a flag's parser rejects a bad value with InvalidArgumentError. */
  readonly options: readonly Option[];
  /**
   * Turns what commander accepted (the number of arguments and every flag's value are checked by
   * then) into the command's arguments. No I/O. Throws UsageError for a combination of flags it
   * refuses (reported like commander's own errors, exit 2).
   */
  parse(positionals: readonly string[], options: OptionValues): Args;
  /** Does the work; resolves to the exit code or throws CliError. */
  run(args: Args, context: CommandContext): Promise<number>;
}

/** A command with its argument type erased, so all of them fit in one table. */
export interface CliCommand {
  readonly kind: 'command';
  readonly name: string;
  readonly summary: string;
  readonly arguments: readonly Argument[];
  readonly options: readonly Option[];
  /** `fullName`: the words that selected it, `cluster create`. */
  prepare(fullName: string, positionals: readonly string[], options: OptionValues): PreparedCommand;
}

/** Commands under one word: `laneway cluster create NAME`, `laneway cluster delete NAME`. */
export interface CliCommandGroup {
  readonly kind: 'group';
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CliCommand[];
  /**
   * The name of the subcommand that runs when none is given (`laneway security` lists, as
   * `laneway security list` does). Without one, the group's word alone is a bad command line.
   */
  readonly defaultCommand?: string;
}

export type CliCommandEntry = CliCommand | CliCommandGroup;

export interface PreparedCommand {
  /** The words that selected it: `deploy`, `cluster create`. */
  readonly name: string;
  /** What `parse` made of the command line (for tests and debugging). */
  readonly args: unknown;
  run(context: CommandContext): Promise<number>;
}

export function defineCommand<Args>(definition: CommandDefinition<Args>): CliCommand {
  return {
    kind: 'command',
    name: definition.name,
    summary: definition.summary,
    arguments: definition.arguments,
    options: definition.options,
    prepare(fullName, positionals, options) {
      const args = definition.parse(positionals, options);
      return { name: fullName, args, run: (context) => definition.run(args, context) };
    },
  };
}

export function defineGroup(group: Omit<CliCommandGroup, 'kind'>): CliCommandGroup {
  return { kind: 'group', ...group };
}

/**
 * The same command under another name, so that every resource kind has the same verbs: `channel
 * list` runs what `channels` runs, `jobs show ID` what `job ID` does.
 */
export function aliasOf(command: CliCommand, name: string, summary: string): CliCommand {
  return { ...command, name, summary };
}
