import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { CliError } from '../errors';
import { namingFlags } from '../flag-names';
import { formatApplyFailure, formatJson, formatRollback } from '../format';
import { defineCommand, type CommandContext } from './command';
import { readWaitOptions, WAIT_FLAGS, WAIT_OPTIONS } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface RollbackArgs extends WaitArgs {
  readonly service: string;
  /** As `versions` prints it: a unique prefix of at least 6 characters will do; '' for the one before the current. */
  readonly version: string;
}

export const rollbackCommand = defineCommand<RollbackArgs>({
  name: 'rollback',
  summary: 'Make an earlier version of a service current again, on every server',
  arguments: [
    new Argument('SERVICE', 'the service, as deployed'),
    new Argument(
      '[VERSION]',
      "one of its versions as 'versions' prints it (a unique prefix of 6+ characters); default: the version before the current one",
    ),
  ],
  options: WAIT_OPTIONS,
  parse([service = '', version = ''], options) {
    return { service, version, ...readWaitOptions(options) };
  },
  async run(args, context) {
    const version = args.version || (await versionBeforeCurrent(args.service, context));
    const response = await namingFlags(WAIT_FLAGS, () =>
      context.api.rollback({
        cluster: context.config.cluster,
        service: args.service,
        version,
        waitFor: args.waitFor,
        timeoutMs: args.timeoutMs,
      }),
    );
    context.out(
      context.json
        ? formatJson(response)
        : formatRollback(response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
    );
    const failure = formatApplyFailure(response.revision, response.servers);
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});

/** The version `versions` lists right after the current one (newest first): one step back. */
async function versionBeforeCurrent(service: string, context: CommandContext): Promise<string> {
  const { versions } = await context.api.listServiceVersions(context.config.cluster, service);
  const current = versions.findIndex((v) => v.current);
  const before = current >= 0 ? versions[current + 1] : undefined;
  if (!before) {
    throw new CliError(
      versions.length === 0
        ? `service '${service}' has no versions in cluster '${context.config.cluster}'`
        : `service '${service}' has no version older than the current one: nothing to roll back to (see 'laneway versions ${service}')`,
    );
  }
  return before.version;
}
