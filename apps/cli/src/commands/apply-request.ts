import { WaitFor } from '@laneway/proto';
import type { ApplyRequest } from '@laneway/proto';
import { CONFIG_FILE_NAME, readConfigBundle } from '../config-bundle';
import { readKeyFile } from '../key-file';
import { secretValuesFor } from '../secret-references';
import type { BundleArgs } from './bundle-options';
import type { CommandContext } from './command';
import type { WaitArgs } from './wait-options';

/**
 * The ApplyRequest for the bundle in `args.dir`: its files, the values of laneway.yaml's
 * `${env:NAME}` references that the environment sets, and `--key-file`'s bytes.
 */
export async function applyRequestOf(
  args: BundleArgs,
  context: CommandContext,
  run: { readonly dryRun: boolean } & Partial<WaitArgs>,
): Promise<ApplyRequest> {
  const files = await readConfigBundle(args.dir, context.cwd);
  const config = files.find((file) => file.path === CONFIG_FILE_NAME)?.content ?? '';
  return {
    cluster: context.config.cluster,
    files: files.map((file) => ({ path: file.path, content: file.content })),
    dryRun: run.dryRun,
    prune: args.prune,
    secretValues: secretValuesFor(config, context.env),
    secretsKey: args.keyFile === undefined ? Buffer.alloc(0) : await readKeyFile(args.keyFile, context.cwd),
    waitFor: run.waitFor ?? WaitFor.WAIT_FOR_NONE,
    timeoutMs: run.timeoutMs ?? 0,
  };
}
