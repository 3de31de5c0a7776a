import { WaitFor } from '@laneway/proto';
import { Option } from 'commander';
import { formatConfigApply, formatConfigDiff } from '../config-format';
import { CliError } from '../errors';
import { formatApplyFailure, formatJson } from '../format';
import { applyRequestOf } from './apply-request';
import { BUNDLE_ARGUMENT, BUNDLE_OPTIONS, readBundleArgs } from './bundle-options';
import type { BundleArgs } from './bundle-options';
import { defineCommand } from './command';
import { optionValue } from './option-values';
import { readWaitOptions, WAIT_OPTIONS } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface ApplyArgs extends BundleArgs, WaitArgs {
  readonly dryRun: boolean;
}

export const applyCommand = defineCommand<ApplyArgs>({
  name: 'apply',
  summary:
    'Make the cluster match the bundle in DIR, in one revision (all or nothing); removes nothing without --prune',
  arguments: [BUNDLE_ARGUMENT],
  options: [
    ...BUNDLE_OPTIONS,
    new Option('--dry-run', 'show the changes and make none (as diff does)'),
    ...WAIT_OPTIONS,
  ],
  parse([dir = ''], options) {
    return {
      ...readBundleArgs(dir, options),
      dryRun: optionValue.flag(options, 'dryRun'),
      ...readWaitOptions(options),
    };
  },
  async run(args, context) {
    const { dryRun, waitFor, timeoutMs } = args;
    const response = await context.api.configApply(
      await applyRequestOf(args, context, { dryRun, waitFor, timeoutMs }),
    );
    if (context.json) context.out(formatJson(response));
    else if (args.dryRun) context.out(formatConfigDiff(response, args));
    else
      context.out(formatConfigApply(response, { ...args, waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }));
    const failure = response.applied ? formatApplyFailure(response.revision, response.servers) : undefined;
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});
