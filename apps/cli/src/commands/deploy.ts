import { WaitFor } from '@laneway/proto';
import { collectFiles } from '../collect-files';
import { CliError, UsageError } from '../errors';
import { formatApplyFailure, formatDeploy, formatJson } from '../format';
import { booleanOption, millisecondsOption, WAIT_OPTIONS } from './arguments';
import { defineCommand } from './command';

export interface DeployArgs {
  readonly paths: readonly string[];
  readonly waitFor: WaitFor;
  /** 0: the control plane's default (10 s). */
  readonly timeoutMs: number;
}

export const deployCommand = defineCommand<DeployArgs>({
  name: 'deploy',
  arguments: 'PATH...',
  summary: 'Deploy the services in the given files and directories, in one revision',
  options: WAIT_OPTIONS,
  parse(positionals, values) {
    if (positionals.length === 0) throw new UsageError('deploy: missing PATH', 'deploy');
    const noWait = booleanOption(values, 'no-wait');
    const timeoutMs = millisecondsOption(values, 'timeout', 'deploy');
    return {
      paths: [...positionals],
      waitFor: noWait ? WaitFor.WAIT_FOR_NONE : WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: timeoutMs ?? 0,
    };
  },
  async run(args, context) {
    const files = await collectFiles(args.paths, context.cwd);
    const response = await context.api.deploy({
      cluster: context.config.cluster,
      files: files.map((f) => ({ path: f.path, content: f.content })),
      waitFor: args.waitFor,
      timeoutMs: args.timeoutMs,
    });
    context.out(
      context.json
        ? formatJson(response)
        : formatDeploy(response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
    );
    const failure = formatApplyFailure(response.revision, response.servers);
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});
