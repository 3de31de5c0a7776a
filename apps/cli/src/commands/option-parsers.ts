/**
 * Parsers for flag values, given to commander's `Option.argParser`. A bad value throws
 * InvalidArgumentError, which commander reports as
 * `error: option '--timeout <MS>' argument 'soon' is invalid. <what to give instead>` (exit 2).
 */
import { InvalidArgumentError } from 'commander';

const MAX_UINT32 = 0xffff_ffff;

/** A whole number that fits a uint32 field, else undefined. */
function parseUint32(raw: string): number | undefined {
  const trimmed = raw.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  return Number.isSafeInteger(value) && value <= MAX_UINT32 ? value : undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `5s`, `1.5s`, `2m`, `1h` as whole milliseconds; a bare number when `bare` is its unit. */
function parseDuration(raw: string, bare: 'ms' | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  const unit = match?.[2] ?? bare;
  if (!match || unit === undefined) return undefined;
  const ms = Math.round(Number(match[1]) * (DURATION_UNITS[unit] ?? Number.NaN));
  return Number.isSafeInteger(ms) && ms <= MAX_UINT32 ? ms : undefined;
}

/** `5ms, 5s, 5m or 5h`, after the number given. */
function unitsFor(bareNumber: string): string {
  const n = bareNumber.trim();
  return `${n}ms, ${n}s, ${n}m or ${n}h`;
}

/**
 * `--flag MS`: milliseconds, as the flag's name says: a whole number (`5000`), or a duration with a
 * unit (`5s`, `500ms`, `2m`, `1h`), at least `min`, that fits the uint32 field.
 */
export function millisecondsParser(flag: string, min = 0): (value: string) => number {
  return (value) => {
    const whole = /^\s*\d+\s*$/.test(value) ? parseUint32(value) : parseDuration(value, undefined);
    if (whole === undefined || whole < min) {
      throw new InvalidArgumentError(
        `Give whole milliseconds from ${min} to ${MAX_UINT32}, e.g. ${flag} 5000, or a duration with a unit, e.g. ${flag} 5s.`,
      );
    }
    return whole;
  };
}

/**
 * `--flag DURATION`: a number with a unit, `500ms`, `5s`, `1.5s`, `2m` or `1h`, as whole
 * milliseconds (at least `minMs`) that fit the uint32 field. A bare number is refused, naming the
 * units: it is not clear which one it means.
 */
export function durationParser(flag: string, example: string, minMs = 0): (value: string) => number {
  return (value) => {
    if (/^\s*\d+(?:\.\d+)?\s*$/.test(value)) {
      throw new InvalidArgumentError(`Give a unit: ${unitsFor(value)}.`);
    }
    const ms = parseDuration(value, undefined);
    if (ms === undefined) {
      throw new InvalidArgumentError(`Give a duration: a number with ms, s, m or h, e.g. ${flag} ${example}.`);
    }
    if (ms < minMs) {
      throw new InvalidArgumentError(`Give at least ${formatDuration(minMs)}, e.g. ${flag} ${example}.`);
    }
    return ms;
  };
}

/** Milliseconds as the shortest exact duration: `1s`, `1500ms`, `2m`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `--flag N`: a whole number of at least 1 that fits the uint32 field. */
export function countParser(flag: string): (value: string) => number {
  return (value) => {
    const count = parseUint32(value);
    if (count === undefined || count === 0) {
      throw new InvalidArgumentError(`Give a whole number from 1 to ${MAX_UINT32}, e.g. ${flag} 20.`);
    }
    return count;
  };
}

/** `--flag JSON`: text that parses as JSON, kept as given (the control plane parses it again). */
export function jsonTextParser(flag: string): (value: string) => string {
  return (value) => {
    try {
      JSON.parse(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InvalidArgumentError(
        `It is not valid JSON (${reason}): give JSON, quoted for the shell, e.g. ${flag} '{"name":"Ada"}'.`,
      );
    }
    return value;
  };
}

/** `--flag NAME`: any text but blank, trimmed. `what` completes "Give ...". */
export function nonEmptyParser(what: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`Give ${what}, or leave the option out.`);
    return value.trim();
  };
}

/** The HTTP methods a channel can answer (the control plane's list). */
export const CHANNEL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `--method METHOD`: one of CHANNEL_METHODS, in any case; upper-cased. */
export function httpMethodParser(flag: string): (value: string) => string {
  return (value) => {
    const method = value.trim().toUpperCase();
    if (!(CHANNEL_METHODS as readonly string[]).includes(method)) {
      throw new InvalidArgumentError(`Give one of ${CHANNEL_METHODS.join(', ')}, e.g. ${flag} GET.`);
    }
    return method;
  };
}

/** `--path PATH`: a URL path, starting with '/' (the control plane checks the rest). */
export function urlPathParser(flag: string): (value: string) => string {
  return (value) => {
    if (!value.startsWith('/')) {
      throw new InvalidArgumentError(
        `A path starts with '/'; ':name' segments are parameters, e.g. ${flag} /customers/:id.`,
      );
    }
    return value;
  };
}

/** `--flag N`: a whole number from 0 that fits the uint32 field. */
export function wholeNumberParser(flag: string, example: number): (value: string) => number {
  return (value) => {
    const n = parseUint32(value);
    if (n === undefined) {
      throw new InvalidArgumentError(`Give a whole number from 0 to ${MAX_UINT32}, e.g. ${flag} ${example}.`);
    }
    return n;
  };
}
