import { Argument, Option } from 'commander';
import { namingFlags } from '../flag-names';
import type { FlagNames } from '../flag-names';
import { formatJson } from '../format';
import { readCaFile, readMirrorTokenFile } from '../mirror-files';
import { formatMirrorStatus } from '../mirror-format';
import { defineCommand } from './command';
import { hostPortParser } from './mirror-options';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface MirrorFollowArgs {
  readonly cluster: string;
  /** `--source HOST:PORT`: the source's control plane. */
  readonly source: string;
  /** `--source-cluster`: the cluster on the source; undefined: the same name as `cluster`. */
  readonly sourceCluster: string | undefined;
  readonly tokenFile: string;
  readonly caFile: string | undefined;
  readonly replace: boolean;
}

/** The request's fields as the user gave them, for the control plane's INVALID_ARGUMENT. */
const FLAG_NAMES: FlagNames = {
  source_address: '--source',
  source_cluster: '--source-cluster',
  ca_pem: '--ca',
  token: 'the token in --token-file',
};

export const mirrorFollowCommand = defineCommand<MirrorFollowArgs>({
  name: 'follow',
  summary: 'On the follower: make CLUSTER a read-only copy of a cluster on another control plane, kept identical',
  arguments: [new Argument('CLUSTER', 'the cluster on this control plane that follows (created when missing)')],
  options: [
    new Option('--source <ADDR>', "the source's control plane, HOST:PORT (its gRPC API)")
      .makeOptionMandatory()
      .argParser(hostPortParser('--source')),
    new Option('--source-cluster <NAME>', 'the cluster on the source (default: the same name as CLUSTER)').argParser(
      nonEmptyParser('a cluster name, e.g. --source-cluster prod'),
    ),
    new Option('--token-file <FILE>', "a file holding the source's mirror token (`laneway mirror token CLUSTER > FILE` on the source)")
      .makeOptionMandatory()
      .argParser(nonEmptyParser('a file, e.g. --token-file prod.mirror-token')),
    new Option('--ca <FILE>', "the PEM of the CA that signed the source's certificate (default: plaintext, loopback only)").argParser(
      nonEmptyParser('a CA file, e.g. --ca source-ca.pem'),
    ),
    new Option('--replace', 'replace what CLUSTER holds (services, resources) with the source\'s state; without it, a cluster that holds anything is refused'),
  ],
  parse: ([cluster = ''], options) => ({
    cluster,
    source: optionValue.string(options, 'source') ?? '',
    sourceCluster: optionValue.string(options, 'sourceCluster'),
    tokenFile: optionValue.string(options, 'tokenFile') ?? '',
    caFile: optionValue.string(options, 'ca'),
    replace: optionValue.flag(options, 'replace'),
  }),
  async run(args, context) {
    // Both files before the call: a bad one costs nothing on either site.
    const token = await readMirrorTokenFile(args.tokenFile, context.cwd);
    const caPem = args.caFile === undefined ? '' : await readCaFile(args.caFile, context.cwd);
    const response = await namingFlags(FLAG_NAMES, () =>
      context.api.followMirror({
        cluster: args.cluster,
        sourceAddress: args.source,
        sourceCluster: args.sourceCluster ?? args.cluster,
        token,
        caPem,
        replace: args.replace,
      }),
    );
    if (context.json) context.out(formatJson(response));
    else context.out(response.status ? formatMirrorStatus(response.status) : `${args.cluster} follows ${args.sourceCluster ?? args.cluster} at ${args.source}`);
    return 0;
  },
});
