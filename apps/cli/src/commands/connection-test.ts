import { Argument, Option } from 'commander';
import { formatConnectionTest, formatConnectionTestFailure } from '../connection-format';
import { CliError } from '../errors';
import { namingFlags } from '../flag-names';
import { formatJson } from '../format';
import { defineCommand } from './command';
import { durationParser } from './option-parsers';
import { optionValue } from './option-values';

export interface ConnectionTestArgs {
  readonly name: string;
  /** Per server; 0: the control plane's default (10 s). */
  readonly timeoutMs: number;
}

/**
 * `laneway connection test NAME`: every connected server opens the connection; one line per server
 * (ok and the latency, or why it failed), exit 1 when any failed. No server connected is not a
 * failure: it says so and exits 0 (nothing was tested; `laneway servers` shows who is there).
 */
export const connectionTestCommand = defineCommand<ConnectionTestArgs>({
  name: 'test',
  summary:
    'Have every connected server open a connection: ok and the latency, or the error (exit 1 if any failed)',
  arguments: [new Argument('NAME', 'the connection')],
  options: [
    new Option('--timeout <DURATION>', 'how long each server may take, e.g. 10s (default 10s)').argParser(
      durationParser('--timeout', '10s'),
    ),
  ],
  parse: ([name = ''], options) => ({ name, timeoutMs: optionValue.number(options, 'timeout') ?? 0 }),
  async run(args, context) {
    const { cluster } = context.config;
    const response = await namingFlags({ timeout_ms: '--timeout' }, () => context.api.testConnection({ cluster, ...args }));
    context.out(context.json ? formatJson(response) : formatConnectionTest(response, args.name, cluster));
    const failure = formatConnectionTestFailure(args.name, response.servers);
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});
