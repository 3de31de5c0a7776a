import { Argument, Option } from 'commander';
import { formatInvokeOutput, formatJson } from '../format';
import { defineCommand } from './command';
import { jsonTextParser, millisecondsParser } from './option-parsers';
import { optionValue } from './option-values';

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
      const response = await context.api.invokeAsync(request);
      context.out(context.json ? formatJson(response) : `job ${response.jobId}`);
      return 0;
    }
    const response = await context.api.invoke(request);
    if (context.json) {
      context.out(formatJson(response));
    } else {
      context.out(formatInvokeOutput(response.outputJson));
      context.err(`served by ${response.server}`);
    }
    return 0;
  },
});
