import type { Command, OptionSpec } from './commands/command';
import { COMMANDS } from './commands';

/** Flags every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.freeze({
  'control-plane': {
    type: 'string',
    valueName: 'ADDR',
    description: 'control plane address (default $LANEWAY_CONTROL_PLANE, else 127.0.0.1:50051)',
  },
  cluster: {
    type: 'string',
    valueName: 'NAME',
    description: 'the cluster to act on (default $LANEWAY_CLUSTER, else default)',
  },
  json: { type: 'boolean', description: 'print the raw response object as JSON' },
  deadline: {
    type: 'string',
    valueName: 'MS',
    description: 'gRPC deadline per call (default 60000 for deploy, 35000 otherwise)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
});

export function usageLine(command: Command): string {
  const parts = ['laneway', command.name];
  if (command.arguments) parts.push(command.arguments);
  for (const [name, spec] of Object.entries(command.options)) {
    parts.push(spec.type === 'string' ? `[--${name} ${spec.valueName ?? 'VALUE'}]` : `[--${name}]`);
  }
  return parts.join(' ');
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

export function globalHelp(): string {
  const rows = COMMANDS.map((c) => [[c.name, c.arguments].filter(Boolean).join(' '), c.summary] as const);
  rows.push(['help [COMMAND]', 'Show this help, or the help of one command']);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    'Usage: laneway [options] COMMAND [arguments]',
    '',
    'Commands:',
    ...rows.map(([left, summary]) => `  ${left.padEnd(width)}  ${summary}`),
    '',
    'Options (any command):',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Environment:',
    '  LANEWAY_CONTROL_PLANE  control plane address (host:port)',
    '  LANEWAY_CLUSTER        the cluster to act on',
    '  LANEWAY_TOKEN          sent as "authorization: Bearer <token>" (default: the contents of',
    '                         $LANEWAY_DATA_DIR/admin-token, relative to the current directory, if it exists)',
    "  LANEWAY_DATA_DIR       the control plane's data directory (default ./.laneway)",
    '',
    'Exit status: 0 success, 1 error, 2 bad command line.',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: ${usageLine(command)}`, '', command.summary];
  if (Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Options (any command):', ...optionLines(GLOBAL_OPTIONS));
  return lines.join('\n');
}

/** The usage shown after a usage error: the command's when it is known, else the overview. */
export function usageFor(commandName: string | undefined): string {
  const command = COMMANDS.find((c) => c.name === commandName);
  return command
    ? `Usage: ${usageLine(command)}\nRun 'laneway help ${command.name}' for more.`
    : globalHelp();
}
