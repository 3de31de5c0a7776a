import { WaitFor } from '@laneway/proto';
import type { ChannelChangeResponse, ServerApplyResult } from '@laneway/proto';
import { CliError } from '../errors';
import { formatApplyFailure, formatChannelChange, formatJson, formatNoChannelListener } from '../format';
import type { CommandContext } from './command';

/**
 * Prints a channel change as deploy prints a deploy (the change, then what each server did) and
 * fails (exit 1) when a server did not apply it.
 */
export function reportChannelChange(
  verb: 'created' | 'updated' | 'deleted',
  args: { readonly name: string; readonly waitFor: WaitFor },
  response: ChannelChangeResponse,
  context: CommandContext,
): number {
  const code = reportResourceChange(
    response,
    () => formatChannelChange(verb, args.name, response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
    context,
  );
  const unheard = formatNoChannelListener(response.servers);
  if (unheard !== undefined) context.err(unheard);
  return code;
}

/**
 * What every change of a cluster resource (a channel, a security definition) prints: `text()`, or
 * `json` (default: the response) with `--json`; then exit 1 (CliError) unless every server ACKed.
 */
export function reportResourceChange(
  response: { readonly revision: number; readonly servers: readonly ServerApplyResult[] },
  text: () => string,
  context: CommandContext,
  json: unknown = response,
): number {
  context.out(context.json ? formatJson(json) : text());
  const failure = formatApplyFailure(response.revision, response.servers);
  if (failure !== undefined) throw new CliError(failure);
  return 0;
}
