import { WaitFor } from '@laneway/proto';
import { Option } from 'commander';
import type { FlagNames } from '../flag-names';
import type { OptionValues } from './command';
import { millisecondsParser } from './option-parsers';
import { optionValue } from './option-values';

/**
 * `--no-wait` and `--<timeoutFlag> <MS>`: the flags of a command that changes the cluster and can
 * wait for the servers. Read them back with {@link readWaitOptions} and the same flag name.
 */
export function waitOptions(timeoutFlag: 'timeout' | 'wait-timeout'): readonly Option[] {
  return Object.freeze([
    new Option('--no-wait', 'return once the change is stored; do not wait for the servers'),
    new Option(`--${timeoutFlag} <MS>`, 'how long to wait for the servers (default 10000)').argParser(
      millisecondsParser(`--${timeoutFlag}`),
    ),
  ]);
}

/** How the control plane names the wait of deploy, undeploy and rollback (`timeout_ms`): `--timeout`. */
export const WAIT_FLAGS: FlagNames = { timeout_ms: '--timeout' };

/** The wait flags of deploy, undeploy and rollback: `--no-wait`, `--timeout <MS>`. */
export const WAIT_OPTIONS: readonly Option[] = waitOptions('timeout');

/**
 * The wait flags of the channel commands, whose `--timeout` is the channel's own request deadline:
 * `--no-wait`, `--wait-timeout <MS>`.
 */
export const CHANNEL_WAIT_OPTIONS: readonly Option[] = waitOptions('wait-timeout');

export interface WaitArgs {
  readonly waitFor: WaitFor;
  /** 0: the control plane's default (10 s). */
  readonly timeoutMs: number;
}

/** What the wait options say: `--no-wait` is commander's `wait: false`. */
export function readWaitOptions(
  options: OptionValues,
  timeoutFlag: 'timeout' | 'wait-timeout' = 'timeout',
): WaitArgs {
  return {
    waitFor: options['wait'] === false ? WaitFor.WAIT_FOR_NONE : WaitFor.WAIT_FOR_ALL_SERVERS,
    timeoutMs: optionValue.number(options, timeoutFlag === 'timeout' ? 'timeout' : 'waitTimeout') ?? 0,
  };
}
