import { Argument, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, UsageError } from '../errors';
import { formatJson } from '../format';
import { DEFAULT_BIND, DEFAULT_STATE_FILE, DEFAULT_STATS_SOCKET, haproxyConfig, type LbCluster } from '../haproxy-config';
import { writeChecked, type WriteResult } from '../haproxy-file';
import { runReloadCommand, saveServerState } from '../haproxy-runtime';
import { HaproxyWatch } from '../haproxy-watch';
import { defineCommand, type CommandContext } from './command';
import { durationParser, formatDuration, nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface LbHaproxyArgs {
  /** The clusters whose servers share the backend; empty: the one of --cluster / LANEWAY_CLUSTER. */
  readonly clusters: readonly string[];
  readonly bind: string;
  readonly stateFile: string;
  readonly statsSocket: string;
  /** `--out FILE`: written (after `haproxy -c` accepts it) instead of printed. */
  readonly out?: string | undefined;
  /** `--watch`: keep FILE current, polling every `intervalMs`, running `reloadCmd` after each write. */
  readonly watch?: { readonly intervalMs: number; readonly reloadCmd: string | undefined } | undefined;
}

const DEFAULT_WATCH_INTERVAL_MS = 1_000;

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
    "Print an HAProxy configuration for the servers of one or more clusters, from live state (checks on /healthz, drained servers out, retries of idempotent requests elsewhere); with --watch, rewrite it and reload HAProxy whenever servers come, go, drain or resume",
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
    new Option('--watch', 'keep running: poll the control plane every --interval and rewrite --out FILE (checked with haproxy -c) and run --reload-cmd whenever servers come, go, drain or resume; SIGINT or SIGTERM ends it'),
    new Option('--interval <DURATION>', `with --watch: how often to poll the control plane (default ${formatDuration(DEFAULT_WATCH_INTERVAL_MS)})`).argParser(
      durationParser('--interval', '2s', 100),
    ),
    new Option('--reload-cmd <CMD>', 'with --watch: run after each rewrite, with sh -c and the file in $LANEWAY_LB_FILE (e.g. --reload-cmd "systemctl reload haproxy"); server states are saved over --stats-socket first').argParser(
      nonEmptyParser('a shell command, e.g. --reload-cmd "systemctl reload haproxy"'),
    ),
    new Option('--state-file <FILE>', `HAProxy's server-state-file, which keeps drain and down states across a reload (default ${DEFAULT_STATE_FILE})`).argParser(
      nonEmptyParser('a file, e.g. --state-file /var/lib/haproxy/server-state'),
    ),
    new Option('--stats-socket <PATH>', `HAProxy's admin socket, to save the server states before a reload (default ${DEFAULT_STATS_SOCKET})`).argParser(
      nonEmptyParser('a socket path, e.g. --stats-socket /run/haproxy/admin.sock'),
    ),
  ],
  parse: (positionals, options) => {
    const out = optionValue.string(options, 'out');
    const watch = options['watch'] === true;
    const intervalMs = options['interval'] as number | undefined;
    const reloadCmd = optionValue.string(options, 'reloadCmd');
    if (watch && out === undefined) {
      throw new UsageError('--watch needs --out FILE, the file it keeps current (e.g. --watch --out /etc/haproxy/haproxy.cfg --reload-cmd "systemctl reload haproxy").');
    }
    if (!watch && (intervalMs !== undefined || reloadCmd !== undefined)) {
      throw new UsageError(`${reloadCmd !== undefined ? '--reload-cmd' : '--interval'} works only with --watch --out FILE: add --watch.`);
    }
    return {
      clusters: [...new Set(positionals.map((c) => c.trim()).filter(Boolean))],
      bind: optionValue.string(options, 'bind') ?? DEFAULT_BIND,
      stateFile: optionValue.string(options, 'stateFile') ?? DEFAULT_STATE_FILE,
      statsSocket: optionValue.string(options, 'statsSocket') ?? DEFAULT_STATS_SOCKET,
      out,
      watch: watch ? { intervalMs: intervalMs ?? DEFAULT_WATCH_INTERVAL_MS, reloadCmd } : undefined,
    };
  },
  async run(args, context) {
    if (args.watch && args.out !== undefined) return watch(args, path.resolve(context.cwd, args.out), args.watch, context);
    const text = await generate(args, context);
    if (args.out === undefined) {
      context.out(context.json ? formatJson({ config: text }) : text.trimEnd());
      return 0;
    }
    const file = path.resolve(context.cwd, args.out);
    writeOut(file, text, context);
    if (context.json) context.out(formatJson({ out: file }));
    return 0;
  },
});

/** The configuration from the control plane's state now. */
async function generate(args: LbHaproxyArgs, context: CommandContext): Promise<string> {
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
  return haproxyConfig({ clusters, bind: args.bind, stateFile: args.stateFile, statsSocket: args.statsSocket });
}

/** `--watch`: polls until SIGINT or SIGTERM (exit 0); only a first poll that cannot succeed ends it early. */
async function watch(args: LbHaproxyArgs, file: string, options: NonNullable<LbHaproxyArgs['watch']>, context: CommandContext): Promise<number> {
  const { reloadCmd } = options;
  const watcher = new HaproxyWatch({
    file,
    generate: () => generate(args, context),
    write: (target, text) => writeChecked(target, text),
    saveState: () => saveServerState(args.statsSocket, args.stateFile),
    reload: reloadCmd === undefined ? undefined : () => runReloadCommand(reloadCmd, file, context.env),
    log: (line) => context.err(line),
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    try {
      await watcher.poll(true);
    } catch (err) {
      throw err instanceof CliError ? err : new CliError(`--watch --out ${file}: ${(err as Error).message}`, { cause: err });
    }
    context.err(`watching: ${file} is rewritten${reloadCmd === undefined ? '' : ' and reloaded'} when servers change (polling every ${formatDuration(options.intervalMs)}); Ctrl-C ends`);
    while (!stop.signal.aborted) {
      await sleep(options.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
      if (!stop.signal.aborted) await watcher.poll();
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--out FILE`: replaced only once `haproxy -c` accepts the new text (see writeChecked). */
function writeOut(file: string, text: string, context: CommandContext): void {
  let result: WriteResult;
  try {
    result = writeChecked(file, text);
  } catch (err) {
    throw new CliError(`cannot write beside --out ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (result.kind === 'refused') {
    throw new CliError(`haproxy -c refused the configuration, so ${file} was left as it was:\n${result.output}`);
  }
  if (result.kind === 'unchecked') {
    context.err(`warning: haproxy is not installed here, so ${file} was written unchecked; check it with haproxy -c -f ${file}`);
  }
}
