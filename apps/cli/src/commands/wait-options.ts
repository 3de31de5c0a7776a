import { WaitFor } from '@laneway/proto';
import { Option } from 'commander';
import type { OptionValues } from './command';
import { millisecondsParser } from './option-parsers';
import { optionValue } from './option-values';

/** The flags of every command that changes the cluster and can wait for the servers. */
export const WAIT_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--no-wait', 'return once the change is stored; do not wait for the servers'),
  new Option('--timeout <MS>', 'how long to wait for the servers (default 10000)').argParser(
    millisecondsParser('--timeout'),
  ),
]);

export interface WaitArgs {
  readonly waitFor: WaitFor;
  /** 0: the control plane's default (10 s). */
  readonly timeoutMs: number;
}

/** What WAIT_OPTIONS say: `--no-wait` is commander's `wait: false`. */
export function readWaitOptions(options: OptionValues): WaitArgs {
  return {
    waitFor: options['wait'] === false ? WaitFor.WAIT_FOR_NONE : WaitFor.WAIT_FOR_ALL_SERVERS,
    timeoutMs: optionValue.number(options, 'timeout') ?? 0,
  };
}
