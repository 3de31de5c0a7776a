import { Argument, InvalidArgumentError, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors';
import { formatJson } from '../format';
import { DEFAULT_BIND, DEFAULT_STATE_FILE, DEFAULT_STATS_SOCKET, haproxyConfig, type LbCluster } from '../haproxy-config';
import { defineCommand, type CommandContext } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface LbHaproxyArgs {
  /** The clusters whose servers share the backend; empty: the one of --cluster / LANEWAY_CLUSTER. */
  readonly clusters: readonly string[];
  readonly bind: string;
  readonly stateFile: string;
  readonly statsSocket: string;
  /** `--out FILE`: written (after `haproxy -c` accepts it) instead of printed. */
  readonly out?: string | undefined;
}

/** `--bind ADDR`: HOST:PORT, [V6]:PORT or :PORT, the port from 1 to 65535. */
function bindParser(value: string): string {
  const match = /^(.*):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) {
    throw new InvalidArgumentError('Give HOST:PORT or :PORT (every address), e.g. --bind 0.0.0.0:80.');
  }
  return value.trim();
}

export const lbHaproxyCommand = defineCommand<LbHaproxyArgs>({
  name: 'haproxy',
  summary:
    "Print an HAProxy configuration for the servers of one or more clusters, from live state (checks on /healthz, drained servers out, retries of idempotent requests elsewhere); regenerate after servers change (--watch is to come)",
  arguments: [
    new Argument(
      '[CLUSTER...]',
      'clusters of this control plane whose servers share the one backend (default --cluster, else $LANEWAY_CLUSTER, else default); clusters of other control planes come with mirroring',
    ),
  ],
  options: [
    new Option('--bind <ADDR>', `the address HAProxy listens on, HOST:PORT or :PORT (default ${DEFAULT_BIND}; e.g. :80 on a load-balancer host)`).argParser(bindParser),
    new Option('--out <FILE>', 'write FILE instead of printing, replacing it only once `haproxy -c` accepts the new text (unchecked, with a warning, when haproxy is not installed)').argParser(
      nonEmptyParser('a file, e.g. --out /etc/haproxy/haproxy.cfg'),
    ),
    new Option('--state-file <FILE>', `HAProxy's server-state-file, which keeps drain and down states across a reload (default ${DEFAULT_STATE_FILE})`).argParser(
      nonEmptyParser('a file, e.g. --state-file /var/lib/haproxy/server-state'),
    ),
    new Option('--stats-socket <PATH>', `HAProxy's admin socket, to save the server states before a reload (default ${DEFAULT_STATS_SOCKET})`).argParser(
      nonEmptyParser('a socket path, e.g. --stats-socket /run/haproxy/admin.sock'),
    ),
  ],
  parse: (positionals, options) => ({
    clusters: [...new Set(positionals.map((c) => c.trim()).filter(Boolean))],
    bind: optionValue.string(options, 'bind') ?? DEFAULT_BIND,
    stateFile: optionValue.string(options, 'stateFile') ?? DEFAULT_STATE_FILE,
    statsSocket: optionValue.string(options, 'statsSocket') ?? DEFAULT_STATS_SOCKET,
    out: optionValue.string(options, 'out'),
  }),
  async run(args, context) {
    const names = args.clusters.length ? args.clusters : [context.config.cluster];
    const clusters: LbCluster[] = [];
    for (const name of names) {
      const [servers, channels] = await Promise.all([context.api.listServers(name), context.api.listChannels(name)]);
      clusters.push({
        name,
        revision: Number(servers.revision),
        servers: servers.servers.map((s) => ({ name: s.name, httpAddress: s.httpAddress, connected: s.connected, drained: s.drained })),
        channelTimeoutsMs: channels.channels.map((c) => c.timeoutMs),
      });
    }
    const text = haproxyConfig({ clusters, bind: args.bind, stateFile: args.stateFile, statsSocket: args.statsSocket });
    if (args.out === undefined) {
      context.out(context.json ? formatJson({ config: text }) : text.trimEnd());
      return 0;
    }
    const file = path.resolve(context.cwd, args.out);
    writeChecked(file, text, context);
    if (context.json) context.out(formatJson({ out: file }));
    return 0;
  },
});

/**
 * Writes `text` to a temporary file beside `file`, has `haproxy -c` check it, and renames it over
 * `file` (atomic on one file system) only when it passes, so a reload never reads a broken file.
 */
function writeChecked(file: string, text: string, context: CommandContext): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o644 });
  } catch (err) {
    throw new CliError(`cannot write ${temporary} (beside --out ${file}): ${(err as Error).message}`, { cause: err });
  }
  try {
    const check = spawnSync('haproxy', ['-c', '-q', '-f', temporary], { encoding: 'utf8' });
    if (check.error && (check.error as NodeJS.ErrnoException).code === 'ENOENT') {
      context.err(`warning: haproxy is not installed here, so ${file} was written unchecked; check it with haproxy -c -f ${file}`);
    } else if (check.error || check.status !== 0) {
      const output = `${check.stdout ?? ''}${check.stderr ?? ''}`.trim();
      throw new CliError(`haproxy -c refused the configuration, so ${file} was left as it was:\n${output || String(check.error ?? `exit ${check.status}`)}`);
    }
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}
