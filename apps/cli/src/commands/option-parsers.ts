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

/** `--flag MS`: a whole number of milliseconds, at least `min`, that fits the uint32 field. */
export function millisecondsParser(flag: string, min = 0): (value: string) => number {
  return (value) => {
    const ms = parseUint32(value);
    if (ms === undefined || ms < min) {
      throw new InvalidArgumentError(
        `Give a whole number of milliseconds from ${min} to ${MAX_UINT32}, e.g. ${flag} 5000.`,
      );
    }
    return ms;
  };
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
