import { Argument, Option } from 'commander';
import type { OptionValues } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

/** `DIR`: the bundle `diff` and `apply` read. */
export const BUNDLE_ARGUMENT = new Argument(
  'DIR',
  "a directory holding laneway.yaml and the services' sources, as 'laneway export' writes it",
);

/** The flags `diff` and `apply` share: `--prune`, `--key-file <FILE>`, `--all`. */
export const BUNDLE_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--prune', 'also remove what DIR does not name (without it, that is kept)'),
  new Option(
    '--key-file <FILE>',
    'the key the secrets were exported under (export --with-secrets); ${env:NAME} secrets come from the environment',
  ).argParser(nonEmptyParser('a key file, e.g. --key-file prod.key')),
  new Option('--all', 'also list the resources that do not change'),
]);

export interface BundleArgs {
  readonly dir: string;
  readonly prune: boolean;
  readonly keyFile?: string | undefined;
  /** `--all`: list the unchanged resources too. */
  readonly all: boolean;
}

/** What DIR and the bundle flags say. */
export function readBundleArgs(dir: string, options: OptionValues): BundleArgs {
  return {
    dir,
    prune: optionValue.flag(options, 'prune'),
    keyFile: optionValue.string(options, 'keyFile'),
    all: optionValue.flag(options, 'all'),
  };
}
