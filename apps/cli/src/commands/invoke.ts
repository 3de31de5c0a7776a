import { Argument, Option } from 'commander';
import { namingFlags, type FlagNames } from '../flag-names';
import { formatInvokeOutput, formatJson } from '../format';
import { defineCommand } from './command';
import { jsonTextParser, millisecondsParser } from './option-parsers';
import { optionValue } from './option-values';

/** Invoke's and InvokeAsync's fields as the control plane names them, and their flags. */
const INVOKE_FLAGS: FlagNames = { input_json: '--data', timeout_ms: '--timeout' };

export interface InvokeArgs {
  readonly service: string;
  /** JSON text, already checked to parse; empty means null. */
  readonly inputJson: string;
  readonly async: boolean;
  /** 0: the control plane's default (30 s). */
  readonly timeoutMs: number;
}

export const invokeCommand = defineCommand<InvokeArgs>({
  name: 'invoke',
  summary: "Invoke a service and print its output (or, with --async, queue it and print the job's id)",
  arguments: [new Argument('NAME', 'the service, as deployed (e.g. hello.greet)')],
  options: [
    new Option('--data <JSON>', "the service's input as JSON (default null)").argParser(
      jsonTextParser('--data'),
    ),
    new Option('--async', 'queue a durable invocation and return at once'),
    new Option('--timeout <MS>', 'how long to wait for the output (default 30000)').argParser(
      millisecondsParser('--timeout'),
    ),
  ],
  parse([service = ''], options) {
    return {
      service,
      inputJson: optionValue.string(options, 'data') ?? '',
      async: optionValue.flag(options, 'async'),
      timeoutMs: optionValue.number(options, 'timeout') ?? 0,
    };
  },
  async run(args, context) {
    const request = {
      cluster: context.config.cluster,
      service: args.service,
      inputJson: args.inputJson,
      timeoutMs: args.timeoutMs,
    };
    if (args.async) {
      const response = await namingFlags(INVOKE_FLAGS, () => context.api.invokeAsync(request));
      context.out(context.json ? formatJson(response) : `job ${response.jobId}`);
      return 0;
    }
    const response = await namingFlags(INVOKE_FLAGS, () => context.api.invoke(request));
    if (context.json) {
      context.out(formatJson(response));
    } else {
      context.out(formatInvokeOutput(response.outputJson));
      context.err(`served by ${response.server}`);
    }
    return 0;
  },
});
