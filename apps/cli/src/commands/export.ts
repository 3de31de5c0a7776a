import { Option } from 'commander';
import path from 'node:path';
import { exportJson, formatExport } from '../config-format';
import { checkExportDirectory, writeExport } from '../export-directory';
import { CliError, UsageError } from '../errors';
import { formatJson } from '../format';
import { readOrCreateKeyFile } from '../key-file';
import { defineCommand } from './command';
import type { CommandContext } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface ExportArgs {
  /** `-o DIR`; unset: `./<cluster>-config`. */
  readonly output?: string | undefined;
  /** `--with-secrets --key-file FILE`: secrets encrypted under this key file's bytes. */
  readonly keyFile?: string | undefined;
}

export const exportCommand = defineCommand<ExportArgs>({
  name: 'export',
  summary:
    "Write the cluster's configuration as code: laneway.yaml and the services' sources, secrets as ${env:NAME} references",
  arguments: [],
  options: [
    new Option(
      '-o, --output <DIR>',
      'where to write it (default ./<cluster>-config); an existing DIR must be empty or a previous export, which is replaced exactly',
    ).argParser(nonEmptyParser('a directory, e.g. -o ./prod-config')),
    new Option(
      '--with-secrets',
      'export the secrets encrypted under --key-file instead of as ${env:NAME} references',
    ),
    new Option(
      '--key-file <FILE>',
      'with --with-secrets: the key file (made when missing: 32 random bytes, base64, mode 0600)',
    ).argParser(nonEmptyParser('a key file, e.g. --key-file prod.key')),
  ],
  parse(_positionals, options) {
    const withSecrets = optionValue.flag(options, 'withSecrets');
    const keyFile = optionValue.string(options, 'keyFile');
    if (withSecrets && keyFile === undefined) throw new UsageError('--with-secrets needs --key-file <FILE>');
    if (!withSecrets && keyFile !== undefined) {
      throw new UsageError(
        '--key-file goes with --with-secrets (without it, secrets are exported as ${env:NAME} references)',
      );
    }
    return { output: optionValue.string(options, 'output'), keyFile };
  },
  async run(args, context) {
    const cluster = context.config.cluster;
    const dir = args.output ?? `./${cluster}-config`;
    const root = path.resolve(context.cwd, dir);
    await checkExportDirectory(root, dir);
    const secretsKey =
      args.keyFile === undefined ? Buffer.alloc(0) : await exportKey(args.keyFile, root, context);
    const response = await context.api.configExport({ cluster, secretsKey });
    const removed = await writeExport(root, dir, response.files);
    context.out(
      context.json
        ? formatJson(exportJson(response))
        : formatExport(response, { cluster, dir, removed, keyFile: args.keyFile }),
    );
    return 0;
  },
});

/** The key file's bytes, made first when it does not exist (said on stderr); never inside the export. */
async function exportKey(keyFile: string, root: string, context: CommandContext): Promise<Buffer> {
  const absolute = path.resolve(context.cwd, keyFile);
  if (absolute === root || absolute.startsWith(root + path.sep)) {
    throw new CliError(
      `--key-file '${keyFile}' is inside the export directory: keep the key apart from the secrets it encrypts`,
    );
  }
  const { key, created } = await readOrCreateKeyFile(keyFile, context.cwd);
  if (created) {
    context.err(
      `generated a new secrets key in ${keyFile} (mode 0600): keep it safe, apply needs it (--key-file)`,
    );
  }
  return key;
}
