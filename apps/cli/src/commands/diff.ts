import { formatConfigDiff } from '../config-format';
import { formatJson } from '../format';
import { applyRequestOf } from './apply-request';
import { BUNDLE_ARGUMENT, BUNDLE_OPTIONS, readBundleArgs } from './bundle-options';
import type { BundleArgs } from './bundle-options';
import { defineCommand } from './command';

export const diffCommand = defineCommand<BundleArgs>({
  name: 'diff',
  summary: 'Show what applying the bundle in DIR would add (+), change (~) and remove (-); changes nothing',
  arguments: [BUNDLE_ARGUMENT],
  options: BUNDLE_OPTIONS,
  parse([dir = ''], options) {
    return readBundleArgs(dir, options);
  },
  async run(args, context) {
    const response = await context.api.configApply(await applyRequestOf(args, context, { dryRun: true }));
    context.out(context.json ? formatJson(response) : formatConfigDiff(response, args));
    return 0;
  },
});
