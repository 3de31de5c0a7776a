import { UsageError } from '../errors';
import { formatInvokeOutput, formatJson } from '../format';
import { booleanOption, expectPositionals, millisecondsOption, stringOption } from './arguments';
import { defineCommand } from './command';

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
  arguments: 'NAME',
  summary: "Invoke a service and print its output (or, with --async, queue it and print the job's id)",
  options: {
    data: { type: 'string', valueName: 'JSON', description: "the service's input as JSON (default null)" },
    async: { type: 'boolean', description: 'queue a durable invocation and return at once' },
    timeout: {
      type: 'string',
      valueName: 'MS',
      description: 'how long to wait for the output (default 30000)',
    },
  },
  parse(positionals, values) {
    const [service = ''] = expectPositionals('invoke', positionals, ['NAME']);
    const data = stringOption(values, 'data');
    if (data !== undefined) {
      try {
        JSON.parse(data);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new UsageError(`invalid --data '${data}': not valid JSON (${reason})`, 'invoke');
      }
    }
    const async = booleanOption(values, 'async');
    const timeoutMs = millisecondsOption(values, 'timeout', 'invoke');
    return { service, inputJson: data ?? '', async, timeoutMs: timeoutMs ?? 0 };
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
