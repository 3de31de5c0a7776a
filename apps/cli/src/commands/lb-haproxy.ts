import { Argument, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '@laneway/api-client';
import { CLI_HINTS, cliErrorOf } from '../rethrow-grpc-error';
import { CliError, UsageError } from '../errors';
import { formatJson } from '../format';
import { DEFAULT_BIND, DEFAULT_STATE_FILE, DEFAULT_STATS_SOCKET, haproxyConfig, type LbCluster } from '../haproxy-config';
import { writeChecked, type WriteResult } from '../haproxy-file';
import { runReloadCommand, saveServerState } from '../haproxy-runtime';
import {
  fileCollector,
  pairSites,
  readSiteCaFile,
  readSiteTokenFile,
  siteCollector,
  SiteStates,
  type SiteCluster,
  type SiteOptions,
  type SiteSpec,
} from '../haproxy-sites';
import { HaproxyWatch } from '../haproxy-watch';
import { defineCommand, type CommandContext } from './command';
import { durationParser, formatDuration, nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface LbHaproxyArgs {
  /** The clusters whose servers share the backend; empty: the one of --cluster / LANEWAY_CLUSTER. */
  readonly clusters: readonly string[];
  /** `--site CLUSTER@ADDR` with its `--site-token-file` (and `--site-ca`): clusters of other control planes. */
  readonly sites: readonly SiteOptions[];
  readonly bind: string;
  readonly stateFile: string;
  readonly statsSocket: string;
  /** `--out FILE`: written (after `haproxy -c` accepts it) instead of printed. */
  readonly out?: string | undefined;
  /** `--watch`: keep FILE current, polling every `intervalMs`, running `reloadCmd` after each write. */
  readonly watch?: { readonly intervalMs: number; readonly reloadCmd: string | undefined } | undefined;
}

const DEFAULT_WATCH_INTERVAL_MS = 1_000;
/** Per-call deadline towards a --site's control plane: one that hangs must not hold up the other sites' changes for long. */
const SITE_DEADLINE_MS = 10_000;

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
      'clusters of this control plane (--control-plane) whose servers share the one backend (default --cluster, else $LANEWAY_CLUSTER, else default); clusters of other control planes come with --site',
    ),
  ],
  options: [
    new Option(
      '--site <CLUSTER@ADDR>',
      "repeatable: a cluster on another control plane (the other site of a mirrored cluster) whose servers join the backend, CLUSTER@HOST:PORT[,HOST:PORT...] (e.g. --site prod@10.0.1.5:50051); each needs its own --site-token-file. With --site, servers are named SITE:CLUSTER:SERVER, SITE being the first address of the site's control planes (for this control plane's clusters, the first of --control-plane); with --watch, a site whose control plane cannot be reached keeps its last known servers",
    ).argParser(siteCollector),
    new Option(
      '--site-token-file <FILE>',
      "a file holding the token of a --site's control plane (e.g. a copy of its data directory's admin-token), once per --site in the same order",
    ).argParser(fileCollector('--site-token-file', 'site-b.token')),
    new Option(
      '--site-ca <FILE>',
      "the PEM of the CA that signed a --site's control plane certificate, once per --site in the same order (all of them or none: without, plaintext)",
    ).argParser(fileCollector('--site-ca', 'site-b-ca.pem')),
    new Option('--bind <ADDR>', `the address HAProxy listens on, HOST:PORT or :PORT (default ${DEFAULT_BIND}; e.g. :80 on a load-balancer host)`).argParser(bindParser),
    new Option('--out <FILE>', 'write FILE instead of printing, replacing it only once `haproxy -c` accepts the new text (unchecked, with a warning, when haproxy is not installed)').argParser(
      nonEmptyParser('a file, e.g. --out /etc/haproxy/haproxy.cfg'),
    ),
    new Option('--watch', 'keep running: poll the control plane (and every --site) every --interval and rewrite --out FILE (checked with haproxy -c) and run --reload-cmd whenever servers come, go, drain or resume; SIGINT or SIGTERM ends it'),
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
    const sites = pairSites(
      (options['site'] as readonly SiteSpec[] | undefined) ?? [],
      (options['siteTokenFile'] as readonly string[] | undefined) ?? [],
      (options['siteCa'] as readonly string[] | undefined) ?? [],
    );
    return {
      clusters: [...new Set(positionals.map((c) => c.trim()).filter(Boolean))],
      sites,
      bind: optionValue.string(options, 'bind') ?? DEFAULT_BIND,
      stateFile: optionValue.string(options, 'stateFile') ?? DEFAULT_STATE_FILE,
      statsSocket: optionValue.string(options, 'statsSocket') ?? DEFAULT_STATS_SOCKET,
      out,
      watch: watch ? { intervalMs: intervalMs ?? DEFAULT_WATCH_INTERVAL_MS, reloadCmd } : undefined,
    };
  },
  async run(args, context) {
    const clients: ApiClient[] = [];
    try {
      const states = await siteStates(args, context, clients);
      return await runWith(args, context, () => generate(args, states));
    } finally {
      for (const client of clients) client.close();
    }
  },
});

/**
 * What to read: the clusters of this control plane, then those of each --site on a client of its own
 * (its token and CA files read first, so a bad one fails before any call). Clients go into `clients`.
 */
async function siteStates(args: LbHaproxyArgs, context: CommandContext, clients: ApiClient[]): Promise<SiteStates> {
  const several = args.sites.length > 0;
  const own = context.config.controlPlanes[0]!;
  const names = args.clusters.length ? args.clusters : [context.config.cluster];
  const read: SiteCluster[] = names.map((cluster) => ({
    site: own,
    cluster,
    described: `cluster ${cluster} at --control-plane ${context.config.controlPlanes.join(',')}`,
    api: context.api,
  }));
  const opened = await Promise.all(args.sites.map(async (site) => ({ site, token: await readSiteTokenFile(site, context.cwd), tls: await readSiteCaFile(site, context.cwd) })));
  for (const { site, token, tls } of opened) {
    const api = new ApiClient({ controlPlanes: site.controlPlanes, token, tls, deadlineMs: SITE_DEADLINE_MS, hints: CLI_HINTS, mapError: cliErrorOf });
    clients.push(api);
    read.push({ site: site.controlPlanes[0]!, cluster: site.cluster, described: `--site ${site.given}`, api });
  }
  return new SiteStates(read, several, (line) => context.err(line));
}

/** Prints, writes or (--watch) keeps writing what `generate` makes. */
async function runWith(args: LbHaproxyArgs, context: CommandContext, generate: () => Promise<string>): Promise<number> {
  if (args.watch && args.out !== undefined) return watch(args, path.resolve(context.cwd, args.out), args.watch, context, generate);
  const text = await generate();
  if (args.out === undefined) {
    context.out(context.json ? formatJson({ config: text }) : text.trimEnd());
    return 0;
  }
  const file = path.resolve(context.cwd, args.out);
  writeOut(file, text, context);
  if (context.json) context.out(formatJson({ out: file }));
  return 0;
}

/** The configuration from the state of every site now (a site out of reach: its last known servers, see SiteStates). */
async function generate(args: LbHaproxyArgs, states: SiteStates): Promise<string> {
  const clusters: LbCluster[] = await states.read();
  return haproxyConfig({ clusters, bind: args.bind, stateFile: args.stateFile, statsSocket: args.statsSocket });
}

/** `--watch`: polls until SIGINT or SIGTERM (exit 0); only a first poll that cannot succeed ends it early. */
async function watch(
  args: LbHaproxyArgs,
  file: string,
  options: NonNullable<LbHaproxyArgs['watch']>,
  context: CommandContext,
  generate: () => Promise<string>,
): Promise<number> {
  const { reloadCmd } = options;
  const watcher = new HaproxyWatch({
    file,
    generate,
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
