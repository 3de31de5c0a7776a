import { UsageError } from '../errors';
import type { OptionValues } from './command';

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

/** A `--name MS` option: a whole number of milliseconds that fits the uint32 field. */
export function millisecondsOption(values: OptionValues, name: string, command: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms > MAX_UINT32) {
    throw new UsageError(`invalid --${name} '${raw}': expected a whole number of milliseconds`, command);
  }
  return ms;
}
