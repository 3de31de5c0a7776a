import { Option } from 'commander';
import type { FlagNames } from '../flag-names';
import type { OptionValues } from './command';
import {
  httpMethodParser,
  millisecondsParser,
  nonEmptyParser,
  urlPathParser,
  wholeNumberParser,
} from './option-parsers';
import { optionValue } from './option-values';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions } from './wait-options';
import type { WaitArgs } from './wait-options';

/**
 * What `channel create` and `channel update` share: every field of a channel (an update replaces
 * them all, as UpdateChannel does), then the wait flags (`--timeout` being the channel's own
 * deadline, the wait is `--wait-timeout`).
 */
export const CHANNEL_FIELD_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--method <METHOD>', 'the HTTP method: GET, POST, PUT, PATCH or DELETE')
    .argParser(httpMethodParser('--method'))
    .makeOptionMandatory(),
  new Option('--path <PATH>', "the URL path; ':name' segments are parameters, e.g. /customers/:id")
    .argParser(urlPathParser('--path'))
    .makeOptionMandatory(),
  new Option('--service <NAME>', 'the deployed service it invokes')
    .argParser(nonEmptyParser('the name of a deployed service'))
    .makeOptionMandatory(),
  new Option('--security <KEY>', "a security definition's name (default: none, a public channel)").argParser(
    nonEmptyParser("a security definition's name"),
  ),
  new Option('--timeout <MS>', 'deadline of one request (default 30000)').argParser(
    millisecondsParser('--timeout'),
  ),
  new Option(
    '--rate-limit <N>',
    'requests per second per credential (per client address on a public channel), cluster-wide (default 0: unlimited)',
  ).argParser(wholeNumberParser('--rate-limit', 100)),
  new Option('--async', 'answer 202 with a job id at once and run the invocation durably'),
  ...CHANNEL_WAIT_OPTIONS,
]);

/** CreateChannel's and UpdateChannel's fields as the control plane names them, and their flags. */
export const CHANNEL_FLAGS: FlagNames = {
  method: '--method',
  path: '--path',
  service: '--service',
  security: '--security',
  timeout_ms: '--timeout',
  rate_limit_per_second: '--rate-limit',
  wait_timeout_ms: '--wait-timeout',
};

export interface ChannelFieldArgs {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly service: string;
  /** '': a public channel. */
  readonly security: string;
  /** 0: the servers' default (30 s). */
  readonly timeoutMs: number;
  /** 0: unlimited. */
  readonly rateLimitPerSecond: number;
  readonly async: boolean;
  readonly waitFor: WaitArgs['waitFor'];
  /** 0: the control plane's default (10 s). */
  readonly waitTimeoutMs: number;
}

export function readChannelFields(name: string, options: OptionValues): ChannelFieldArgs {
  const wait = readWaitOptions(options, 'wait-timeout');
  return {
    name,
    method: optionValue.string(options, 'method') ?? '',
    path: optionValue.string(options, 'path') ?? '',
    service: optionValue.string(options, 'service') ?? '',
    security: optionValue.string(options, 'security') ?? '',
    timeoutMs: optionValue.number(options, 'timeout') ?? 0,
    rateLimitPerSecond: optionValue.number(options, 'rateLimit') ?? 0,
    async: optionValue.flag(options, 'async'),
    waitFor: wait.waitFor,
    waitTimeoutMs: wait.timeoutMs,
  };
}
