import { parseArgs } from 'node:util';
import type { Command, OptionSpec, OptionValues, PreparedCommand } from './commands/command';
import { COMMANDS } from './commands';
import { millisecondsOption, stringOption } from './commands/arguments';
import { UsageError } from './errors';
import { commandHelp, GLOBAL_OPTIONS, globalHelp } from './usage';

export interface GlobalFlags {
  /** `--control-plane`: overrides LANEWAY_CONTROL_PLANE. */
  readonly controlPlane?: string;
  /** `--cluster`: overrides LANEWAY_CLUSTER. */
  readonly cluster?: string;
  readonly json: boolean;
  /** `--deadline`: overrides every per-call deadline. */
  readonly deadlineMs?: number;
}

export type CommandLine =
  /** Print `text` to stdout and exit 0. */
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'command'; readonly globals: GlobalFlags; readonly command: PreparedCommand };

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function toParseArgsOptions(...specs: Readonly<Record<string, OptionSpec>>[]): ParseArgsOptions {
  const options: ParseArgsOptions = {};
  for (const spec of specs) {
    for (const [name, { type, short }] of Object.entries(spec)) {
      options[name] = short === undefined ? { type } : { type, short };
    }
  }
  return options;
}

/**
 * Reads argv (without the node and script paths) into a help request or a ready-to-run command.
 * Global flags may come before or after the command. Throws UsageError for anything malformed.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  // First pass, lenient, only to find the command words among the flags and their values.
  const { positionals: words, values: loose } = parseArgs({
    args: [...argv],
    options: toParseArgsOptions(GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)),
    strict: false,
    allowPositionals: true,
  });

  if (words.length === 0) {
    if (loose['help'] === true) return { kind: 'help', text: globalHelp() };
    throw new UsageError('missing command');
  }
  if (words[0] === 'help') return { kind: 'help', text: helpFor(words.slice(1)) };

  const command = findCommand(words);
  let positionals: string[];
  let values: OptionValues;
  try {
    ({ positionals, values } = parseArgs({
      args: [...argv],
      options: toParseArgsOptions(GLOBAL_OPTIONS, command.options),
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError(`${command.name}: ${describeParseError(error)}`, command.name);
  }
  if (values['help'] === true) return { kind: 'help', text: commandHelp(command) };

  const globals = parseGlobals(values, command.name);
  const prepared = command.prepare(positionals.slice(command.name.split(' ').length), values);
  return { kind: 'command', globals, command: prepared };
}

function helpFor(topic: readonly string[]): string {
  return topic.length === 0 ? globalHelp() : commandHelp(findCommand(topic));
}

/** The command whose words start `words`, e.g. `cluster create` for `cluster create prod`. */
function findCommand(words: readonly string[]): Command {
  const command = COMMANDS.find((c) => {
    const names = c.name.split(' ');
    return names.every((name, i) => words[i] === name);
  });
  if (command) return command;
  const first = words[0] ?? '';
  const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]);
  if (subcommands.length > 0) {
    const second = words[1];
    throw new UsageError(
      second === undefined
        ? `${first}: missing subcommand (one of: ${subcommands.join(', ')})`
        : `${first}: unknown subcommand '${second}' (one of: ${subcommands.join(', ')})`,
    );
  }
  throw new UsageError(`unknown command '${first}'`);
}

function parseGlobals(values: OptionValues, commandName: string): GlobalFlags {
  const controlPlane = stringOption(values, 'control-plane');
  const cluster = stringOption(values, 'cluster');
  for (const [flag, value] of [
    ['control-plane', controlPlane],
    ['cluster', cluster],
  ] as const) {
    if (value !== undefined && value.trim() === '') {
      throw new UsageError(`--${flag} must not be empty`, commandName);
    }
  }
  const deadlineMs = millisecondsOption(values, 'deadline', commandName);
  if (deadlineMs === 0) throw new UsageError('--deadline must be more than 0', commandName);
  return {
    ...(controlPlane !== undefined && { controlPlane: controlPlane.trim() }),
    ...(cluster !== undefined && { cluster: cluster.trim() }),
    json: values['json'] === true,
    ...(deadlineMs !== undefined && { deadlineMs }),
  };
}

/** node:util parseArgs messages, made shorter: `unknown option '--foo'`. */
function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option '${option}'`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /argument missing/.test(message)) {
    return `option '${option}' needs a value`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /does not take an argument/.test(message)) {
    return `option '${option}' does not take a value`;
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}
