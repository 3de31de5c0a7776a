import { InvalidArgumentError, Option } from 'commander';
import type { OptionValues } from './commands/command';
import { millisecondsParser, nonEmptyParser } from './commands/option-parsers';
import { optionValue } from './commands/option-values';
import { parseControlPlaneList } from './control-plane-list';

/** `--control-plane HOST:PORT[,HOST:PORT...]`: checked here (exit 2 naming the bad entry), split by applyOverrides. */
function controlPlaneListParser(value: string): string {
  const parsed = parseControlPlaneList(value);
  if ('problem' in parsed) throw new InvalidArgumentError(`${parsed.problem[0]!.toUpperCase()}${parsed.problem.slice(1)}.`);
  return value.trim();
}

/** The flags every command takes, before or after the command words. */
export const GLOBAL_OPTIONS: readonly Option[] = Object.freeze([
  new Option(
    '--control-plane <ADDR>',
    'control plane HOST:PORT, or a comma-separated list of control planes sharing one store, the next tried when one cannot be reached (default $LANEWAY_CONTROL_PLANE, else 127.0.0.1:50051)',
  ).argParser(controlPlaneListParser),
  new Option('--cluster <NAME>', 'the cluster to act on (default $LANEWAY_CLUSTER, else default)').argParser(
    nonEmptyParser('a cluster name, e.g. --cluster default'),
  ),
  new Option(
    '--json',
    'print the answer as JSON (enum values by name, a service\'s input and output as JSON), and an error as {"error":{"code","message"}} on stderr',
  ),
  new Option(
    '--deadline <MS>',
    'gRPC deadline per call (default 60000 for deploy, apply, mirror follow and mirror promote, 35000 otherwise)',
  ).argParser(millisecondsParser('--deadline', 1)),
]);

export interface GlobalFlags {
  /** `--control-plane`, as given (a checked comma-separated list): overrides LANEWAY_CONTROL_PLANE. */
  readonly controlPlane?: string;
  /** `--cluster`: overrides LANEWAY_CLUSTER. */
  readonly cluster?: string;
  readonly json: boolean;
  /** `--deadline`: overrides every per-call deadline. */
  readonly deadlineMs?: number;
}

/** What GLOBAL_OPTIONS say, from the program's option values. */
export function readGlobalFlags(options: OptionValues): GlobalFlags {
  const controlPlane = optionValue.string(options, 'controlPlane');
  const cluster = optionValue.string(options, 'cluster');
  const deadlineMs = optionValue.number(options, 'deadline');
  return {
    ...(controlPlane !== undefined && { controlPlane }),
    ...(cluster !== undefined && { cluster }),
    json: optionValue.flag(options, 'json'),
    ...(deadlineMs !== undefined && { deadlineMs }),
  };
}
