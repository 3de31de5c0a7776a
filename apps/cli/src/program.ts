/**
 * The `laneway` command line as a commander program: the global flags, every command and command
 * group from commands/index.ts, the help, and how a bad command line is reported. Parsing does no
 * I/O beyond printing help and errors: the chosen command comes back ready to run.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands';
import { formatJsonError, UsageError } from './errors';
import type { CliCommand, CliCommandGroup, PreparedCommand } from './commands';
import { GLOBAL_OPTIONS, readGlobalFlags } from './global-options';
import type { GlobalFlags } from './global-options';
import { commandPath, errorHint, HELP_CONFIGURATION, PROGRAM_HELP_FOOTER, suggestion } from './usage';
import { CLI_VERSION } from './version';

/** Anything with `write(text)`: process.stdout, or a test's string collector. */
export interface Output {
  write(chunk: string): unknown;
  /** A terminal's width; the help wraps to it (else to 80 columns). */
  readonly columns?: number;
}

export interface ProgramOutput {
  /** Help goes here. */
  readonly stdout: Output;
  /** Command-line errors go here. */
  readonly stderr: Output;
}

export type CommandLine =
  /** A command to run, with the global flags. */
  | { readonly kind: 'command'; readonly globals: GlobalFlags; readonly command: PreparedCommand }
  /** Nothing to run: help was printed (0), or a bad command line was reported (2). */
  | { readonly kind: 'exit'; readonly code: 0 | 2 };

/**
 * Reads argv (without the node and script paths). Help requests and bad command lines are printed
 * here (help on stdout; `error: …`, the usage and a hint to `--help` on stderr). Global flags may come
 * before or after the command words.
 */
export function parseCommandLine(argv: readonly string[], output: ProgramOutput): CommandLine {
  let line: CommandLine | undefined;
  // With --json, a bad command line is one JSON object on stderr instead of commander's text.
  const json = wantsJson(argv);
  let missing: string | undefined;
  const program = createProgram(
    json
      ? {
          stdout: output.stdout,
          stderr: { write: () => true, ...(output.stderr.columns !== undefined && { columns: output.stderr.columns }) },
        }
      : output,
    (parsed) => {
      line = parsed;
    },
    (text) => {
      missing = text;
    },
  );
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // `--help` is commander.helpDisplayed and `--version` commander.version; everything else,
    // including the help printed for a missing command (commander.help), is a bad command line.
    const shown = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
    if (json && !shown) {
      const message = error.code === 'commander.help' && missing !== undefined ? missing : error.message;
      output.stderr.write(`${formatJsonError('USAGE', usageMessage(message))}\n`);
    }
    return { kind: 'exit', code: shown ? 0 : 2 };
  }
  if (line === undefined) throw new Error(`laneway: no command ran for: ${argv.join(' ')}`);
  return line;
}

/** Whether the global `--json` flag is on the command line (before a `--` that ends the flags). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Commander's `error: unknown command 'x'\n(Did you mean y?)` as one line without `error: `. */
function usageMessage(text: string): string {
  return text
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

function createProgram(
  output: ProgramOutput,
  done: (line: CommandLine) => void,
  onMissingCommand: (message: string) => void,
): Command {
  // Settings made before adding subcommands are inherited by them (commander copies them).
  const program = new Command('laneway')
    .description(
      "Laneway's command line: deploy and invoke services and operate the cluster, through the control plane's gRPC API.",
    )
    .configureOutput({
      writeOut: (text) => void output.stdout.write(text),
      writeErr: (text) => void output.stderr.write(text),
      getOutHelpWidth: () => output.stdout.columns ?? 80,
      getErrHelpWidth: () => output.stderr.columns ?? 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .exitOverride()
    .helpOption('-h, --help', 'show help')
    .configureHelp(HELP_CONFIGURATION)
    // Checked in each command's action instead, to name the extra arguments.
    .allowExcessArguments(true);
  for (const option of GLOBAL_OPTIONS) program.addOption(option);
  program
    .version(CLI_VERSION, '-V, --version', 'print the version and exit')
    .showHelpAfterError(errorHint(program))
    .addHelpText('after', `\n${PROGRAM_HELP_FOOTER}`)
    // Commander prints the help on stderr when the command words are missing (`laneway`,
    // `laneway cluster`); say why first.
    .addHelpText('beforeAll', ({ error, command }) => {
      if (!error) return '';
      onMissingCommand(missingCommand(command));
      return `${missingCommand(command)}\n`;
    });

  const onCommand = (command: PreparedCommand): void => {
    done({ kind: 'command', globals: readGlobalFlags(program.opts()), command });
  };
  for (const entry of COMMANDS) {
    if (entry.kind === 'group') addGroup(program, entry, onCommand);
    else addCommand(program, entry, onCommand);
  }
  addHelpCommand(program, () => done({ kind: 'exit', code: 0 }));
  return program;
}

function addGroup(parent: Command, group: CliCommandGroup, onCommand: (c: PreparedCommand) => void): void {
  const command = parent.command(group.name).description(group.summary).helpCommand(false);
  for (const sub of group.commands) {
    addCommand(command, sub, onCommand, { isDefault: sub.name === group.defaultCommand });
  }
  command.showHelpAfterError(errorHint(command));
}

function addCommand(
  parent: Command,
  spec: CliCommand,
  onCommand: (c: PreparedCommand) => void,
  opts: { readonly isDefault?: boolean } = {},
): void {
  const command = parent.command(spec.name, { isDefault: opts.isDefault === true }).description(spec.summary);
  for (const argument of spec.arguments) command.addArgument(argument);
  for (const option of spec.options) command.addOption(option);
  // A default command sees what follows a mistyped subcommand (`security creat x --header h`):
  // its flags must not be reported before the word is.
  if (opts.isDefault === true) command.allowUnknownOption();
  command.showHelpAfterError(errorHint(command));
  command.action(() => {
    if (opts.isDefault === true) rejectUnknownWords(command);
    rejectExcessArguments(command);
    onCommand(prepare(command, spec));
  });
}

/** The command as `spec.parse` reads it; a UsageError is reported like commander's own errors. */
function prepare(command: Command, spec: CliCommand): PreparedCommand {
  try {
    return spec.prepare(commandPath(command), command.args, command.opts());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // Typed, so that TypeScript sees it end the function (it returns never).
    const report: (message: string, options: { code: string }) => never = command.error.bind(command);
    return report(`error: ${error.message}`, { code: 'commander.usage' });
  }
}

/**
 * A group's default command gets the words commander did not know as a subcommand (`laneway
 * security lsit`): report the word as the unknown subcommand it is, with a suggestion and the group's
 * usage. Then the flags it does not take, as commander would have without allowUnknownOption.
 */
function rejectUnknownWords(command: Command): void {
  const group = command.parent;
  const [first] = command.args;
  // Named (`security list x`), the command reports its own extra arguments.
  const named = group?.args[0] === command.name();
  if (group && !named && first !== undefined && !first.startsWith('-')) {
    // With the suggestion commander gives for the groups without a default command.
    const hint = suggestion(first, group.commands.map((c) => c.name()));
    group.error(`error: unknown command '${first}'${hint}`, { code: 'commander.unknownCommand' });
  }
  const flag = command.args.find((arg) => arg.startsWith('-') && arg !== '-');
  if (flag !== undefined)
    command.error(`error: unknown option '${flag}'`, { code: 'commander.unknownOption' });
}

/** `laneway help [COMMAND...]`: the help of the program, a group or a command, on stdout. */
function addHelpCommand(program: Command, done: () => void): void {
  // Typed, so that TypeScript sees help.error() end the action (it returns never).
  const help: Command = program
    .command('help')
    .description('Show this help, or the help of one command')
    .argument('[COMMAND...]', 'the command words, e.g. cluster create');
  help.showHelpAfterError(errorHint(program));
  help.action((words: string[]) => {
    let target = program;
    for (const word of words) {
      const next = target.commands.find((c) => c.name() === word);
      if (next === undefined) {
        help.error(`error: unknown command '${words.join(' ')}'`, { code: 'commander.unknownCommand' });
      }
      target = next;
    }
    target.outputHelp();
    done();
  });
}

/** Commander's own check says how many; this names them: `unexpected argument 'x'`. */
function rejectExcessArguments(command: Command): void {
  const declared = command.registeredArguments;
  if (declared.at(-1)?.variadic || command.args.length <= declared.length) return;
  const extra = command.args.slice(declared.length).map((arg) => `'${arg}'`);
  const expected =
    declared.length === 0 ? 'it takes none' : `it takes ${declared.map((a) => a.name()).join(' ')}`;
  command.error(
    `error: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.join(' ')} for '${commandPath(command)}' (${expected})`,
    { code: 'commander.excessArguments' },
  );
}

function missingCommand(command: Command): string {
  if (command.parent === null) return 'error: missing command';
  const subcommands = command.commands.map((c) => c.name()).join(', ');
  return `error: '${commandPath(command)}' needs a subcommand (one of: ${subcommands})`;
}
