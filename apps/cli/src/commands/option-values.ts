import type { OptionValues } from './command';

/**
 * Typed reads of commander's option values. Commander has already run each flag's parser, so these
 * only narrow `unknown`: a value of another type reads as unset.
 */
export const optionValue = {
  string(options: OptionValues, key: string): string | undefined {
    const value = options[key];
    return typeof value === 'string' ? value : undefined;
  },
  number(options: OptionValues, key: string): number | undefined {
    const value = options[key];
    return typeof value === 'number' ? value : undefined;
  },
  /** A boolean flag: true when given. (A `--no-x` flag is `x`, false when given.) */
  flag(options: OptionValues, key: string): boolean {
    return options[key] === true;
  },
};
