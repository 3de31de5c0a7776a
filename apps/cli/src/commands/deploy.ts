import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { bundlePackages } from '../bundle-packages';
import { collectFiles } from '../collect-files';
import { CliError } from '../errors';
import { namingFlags } from '../flag-names';
import { formatApplyFailure, formatDeploy, formatJson } from '../format';
import { defineCommand } from './command';
import { readWaitOptions, WAIT_FLAGS, WAIT_OPTIONS } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface DeployArgs extends WaitArgs {
  readonly paths: readonly string[];
}

export const deployCommand = defineCommand<DeployArgs>({
  name: 'deploy',
  summary: 'Deploy the services in the given files and directories, in one revision',
  arguments: [
    new Argument(
      'PATH...',
      'files, and directories to search for .ts/.mts/.cts/.js/.mjs/.cjs files (skipping node_modules, *.d.ts and tests)',
    ),
  ],
  options: WAIT_OPTIONS,
  parse(positionals, options) {
    return { paths: [...positionals], ...readWaitOptions(options) };
  },
  async run(args, context) {
    const collected = await collectFiles(args.paths, context.cwd);
    // The npm packages the files import travel with them, bundled (servers install nothing).
    const files = [...collected, ...(await bundlePackages(collected, context.cwd))];
    const response = await namingFlags(WAIT_FLAGS, () =>
      context.api.deploy({
        cluster: context.config.cluster,
        files: files.map((f) => ({ path: f.path, content: f.content })),
        waitFor: args.waitFor,
        timeoutMs: args.timeoutMs,
      }),
    );
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
