import { Argument, Option } from 'commander';
import { namingFlags } from '../flag-names';
import type { FlagNames } from '../flag-names';
import { formatJson } from '../format';
import { readCaFile } from '../mirror-files';
import { formatPromote } from '../mirror-format';
import { defineCommand } from './command';
import { hostPortParser } from './mirror-options';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface MirrorPromoteArgs {
  readonly cluster: string;
  readonly force: boolean;
  /** `--address`: where the old source reaches this control plane; undefined: the address the CLI talks to. */
  readonly address: string | undefined;
  readonly caFile: string | undefined;
}

const FLAG_NAMES: FlagNames = { address: '--address', ca_pem: '--ca' };

export const mirrorPromoteCommand = defineCommand<MirrorPromoteArgs>({
  name: 'promote',
  summary: 'On a follower: make CLUSTER writable; the source hands over (nothing lost), or with --force it is not waited for',
  arguments: [new Argument('CLUSTER', 'the following cluster on this control plane')],
  options: [
    new Option('--force', 'failover: do not wait for the source (it is gone); its later changes are discarded when it comes back'),
    new Option(
      '--address <HOST:PORT>',
      'where the old source reaches this control plane, to follow it (default: the control plane address this command talks to)',
    ).argParser(hostPortParser('--address')),
    new Option('--ca <FILE>', "the PEM of the CA that signed this control plane's certificate, for the old source (default: plaintext)").argParser(
      nonEmptyParser('a CA file, e.g. --ca ca.pem'),
    ),
  ],
  parse: ([cluster = ''], options) => ({
    cluster,
    force: optionValue.flag(options, 'force'),
    address: optionValue.string(options, 'address'),
    caFile: optionValue.string(options, 'ca'),
  }),
  async run(args, context) {
    const caPem = args.caFile === undefined ? '' : await readCaFile(args.caFile, context.cwd);
    const { response, address } = await namingFlags(FLAG_NAMES, () =>
      context.api.promoteMirror({ cluster: args.cluster, force: args.force, address: args.address, caPem }),
    );
    context.out(context.json ? formatJson(response) : formatPromote(response, address));
    return 0;
  },
});
