import { Option } from 'commander';
import { formatConfigDiff, hasChanges } from '../config-format';
import { formatJson } from '../format';
import { applyRequestOf } from './apply-request';
import { BUNDLE_ARGUMENT, BUNDLE_OPTIONS, readBundleArgs } from './bundle-options';
import type { BundleArgs } from './bundle-options';
import { defineCommand } from './command';
import { optionValue } from './option-values';

export interface DiffArgs extends BundleArgs {
  /** `--exit-code`: exit 1 when applying DIR would change the cluster (as `git diff --exit-code`). */
  readonly exitCode: boolean;
}

export const diffCommand = defineCommand<DiffArgs>({
  name: 'diff',
  summary: 'Show what applying the bundle in DIR would add (+), change (~) and remove (-); changes nothing',
  arguments: [BUNDLE_ARGUMENT],
  options: [
    ...BUNDLE_OPTIONS,
    new Option(
      '--exit-code',
      'exit 1 when there is something to add, change or remove, 0 when not (as git diff --exit-code)',
    ),
  ],
  parse([dir = ''], options) {
    return { ...readBundleArgs(dir, options), exitCode: optionValue.flag(options, 'exitCode') };
  },
  async run(args, context) {
    const response = await context.api.configApply(await applyRequestOf(args, context, { dryRun: true }));
    context.out(context.json ? formatJson(response) : formatConfigDiff(response, args));
    return args.exitCode && hasChanges(response.changes) ? 1 : 0;
  },
});
