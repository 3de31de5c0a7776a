import { UsageError } from '../errors';
import type { OptionSpec, OptionValues } from './command';

/** Exactly the named positionals, else a usage error naming what is missing or extra. */
export function expectPositionals(
  command: string,
  positionals: readonly string[],
  names: readonly string[],
): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`${command}: missing ${names.slice(positionals.length).join(' ')}`, command);
  }
  if (positionals.length > names.length) {
    const extra = positionals.slice(names.length).map((p) => `'${p}'`);
    throw new UsageError(
      `${command}: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.join(' ')}`,
      command,
    );
  }
  return [...positionals];
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function booleanOption(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

const MAX_UINT32 = 0xffff_ffff;

/** A whole number that fits a uint32 field, else undefined. */
function parseUint32(raw: string): number | undefined {
  const trimmed = raw.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  return Number.isSafeInteger(value) && value <= MAX_UINT32 ? value : undefined;
}

/** A `--name MS` option: a whole number of milliseconds that fits the uint32 field. */
export function millisecondsOption(values: OptionValues, name: string, command: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const ms = parseUint32(raw);
  if (ms === undefined) {
    throw new UsageError(`invalid --${name} '${raw}': expected a whole number of milliseconds`, command);
  }
  return ms;
}

/** A `--name N` option: a whole number of at least 1 that fits the uint32 field. */
export function countOption(values: OptionValues, name: string, command: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const count = parseUint32(raw);
  if (count === undefined || count === 0) {
    throw new UsageError(`invalid --${name} '${raw}': expected a whole number of at least 1`, command);
  }
  return count;
}

/** The flags of every command that changes the cluster and can wait for the servers. */
export const WAIT_OPTIONS = {
  'no-wait': {
    type: 'boolean',
    description: 'return once the change is stored; do not wait for the servers',
  },
  timeout: {
    type: 'string',
    valueName: 'MS',
    description: 'how long to wait for the servers (default 10000)',
  },
} as const satisfies Readonly<Record<string, OptionSpec>>;
