/**
 * How the help and the usage lines look. Commander builds the help; this shapes it like the rest of
 * Laneway's text: arguments as NAME and PATH..., each command listed with all its words
 * (`cluster create NAME`), and every command's flags in its usage line.
 */
import { Help } from 'commander';
import type { Argument, Command, HelpConfiguration } from 'commander';

/** `NAME`, `PATH...`, `[COMMAND...]`. */
function argumentName(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? name : `[${name}]`;
}

function programOf(command: Command): Command {
  let root = command;
  while (root.parent) root = root.parent;
  return root;
}

function isGroup(command: Command): boolean {
  return command.commands.length > 0;
}

/** The runnable commands under `command`, each group replaced by its subcommands, in order. */
function leafCommands(command: Command): Command[] {
  return command.commands.flatMap((sub) => (isGroup(sub) ? leafCommands(sub) : [sub]));
}

/** The words that select `command` after the program's name: `deploy`, `cluster create`. */
export function commandPath(command: Command): string {
  const words: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(' ');
}

/** A command as the list of commands shows it: `cluster create NAME`. */
export function commandTerm(command: Command): string {
  return [commandPath(command), ...command.registeredArguments.map(argumentName)].join(' ');
}

/** `laneway invoke NAME [--data <JSON>] [--async] [--timeout <MS>]` (without the global flags). */
export function usageLine(command: Command): string {
  const program = programOf(command).name();
  if (command.parent === null) return `${program} [options] COMMAND [arguments]`;
  if (isGroup(command)) return `${program} ${commandPath(command)} COMMAND [arguments]`;
  const flags = command.options
    .filter((option) => !option.hidden)
    .map((option) => (option.mandatory ? option.flags : `[${option.flags}]`));
  return [program, commandTerm(command), ...flags].join(' ');
}

/** Optimal string alignment distance: edits (insert, delete, substitute, swap two) from a to b. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const above = d[i - 1]!;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * `\n(Did you mean list?)` for a mistyped word, as commander suggests a command or a flag (the
 * closest names within 3 edits that share most of their letters), or '' when nothing is close.
 */
export function suggestion(word: string, names: readonly string[]): string {
  let best = 3;
  let similar: string[] = [];
  for (const name of new Set(names)) {
    if (name.length <= 1) continue;
    const distance = editDistance(word, name);
    const length = Math.max(word.length, name.length);
    if ((length - distance) / length <= 0.4) continue;
    if (distance < best) [best, similar] = [distance, [name]];
    else if (distance === best) similar.push(name);
  }
  similar.sort((a, b) => a.localeCompare(b));
  if (similar.length > 1) return `\n(Did you mean one of ${similar.join(', ')}?)`;
  return similar.length === 1 ? `\n(Did you mean ${similar[0]}?)` : '';
}

/** What follows a command-line error's message: the usage, and where the full help is. */
export function errorHint(command: Command): string {
  const help = [programOf(command).name(), commandPath(command), '--help'].filter(Boolean).join(' ');
  const more =
    command.parent === null ? 'for the commands' : isGroup(command) ? 'for its commands' : 'for more';
  return `\nUsage: ${usageLine(command)}\nRun '${help}' ${more}.`;
}

/** Given to commander's configureHelp on the program (subcommands inherit it). */
export const HELP_CONFIGURATION: HelpConfiguration = Object.freeze({
  showGlobalOptions: true,
  commandUsage: usageLine,
  subcommandTerm: commandTerm,
  argumentTerm: argumentName,
  formatHelp(command: Command, helper: Help): string {
    // Commander's help, listing every runnable command under this one instead of just its direct
    // subcommands. Only here: commander's "Did you mean" suggestions also read visibleCommands, and
    // they must stay the direct subcommands.
    const listing = Object.create(helper) as Help;
    listing.visibleCommands = leafCommands;
    return Help.prototype.formatHelp.call(listing, command, listing);
  },
});

/** After the program's own help. */
export const PROGRAM_HELP_FOOTER = [
  'Environment:',
  '  LANEWAY_CONTROL_PLANE  control plane address (host:port)',
  '  LANEWAY_CLUSTER        the cluster to act on',
  '  LANEWAY_TOKEN          the admin token or a user API token (lwu_...), sent as',
  '                         "authorization: Bearer <token>" (default: the contents',
  '                         of $LANEWAY_DATA_DIR/admin-token, relative to the current',
  '                         directory, if it exists)',
  "  LANEWAY_DATA_DIR       the control plane's data directory (default ./.laneway)",
  '',
  'Durations: a <DURATION> flag needs a unit: 500ms, 5s, 2m or 1h (a bare number is',
  'refused); a <MS> flag is milliseconds by its name: 5000, or with a unit, 5s.',
  '',
  'Exit status: 0 success, 1 error, 2 bad command line.',
].join('\n');
