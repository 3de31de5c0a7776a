/**
 * `laneway lb haproxy --site CLUSTER@HOST:PORT[,HOST:PORT...] --site-token-file FILE [--site-ca FILE]`:
 * clusters of other control planes (the other site of a mirrored cluster) whose servers join the one
 * backend. Parsing, pairing each --site with its token file (and CA), and reading the state of every
 * site, keeping a site's last known servers while its control plane cannot be reached.
 */
import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ListChannelsResponse, ListServersResponse } from '@laneway/proto';
import { describeFsError } from './collect-files';
import { parseControlPlaneList } from './control-plane-list';
import { CliError, UsageError } from './errors';
import type { LbCluster } from './haproxy-config';
import { isUnreachable } from './haproxy-watch';

/** One `--site` value: a cluster on another control plane. */
export interface SiteSpec {
  readonly cluster: string;
  /** Its control planes (sharing one store), tried in order. */
  readonly controlPlanes: readonly string[];
  /** The value as given, for error messages. */
  readonly given: string;
}

/** A --site with the files given for it (by position). */
export interface SiteOptions extends SiteSpec {
  readonly tokenFile: string;
  readonly caFile: string | undefined;
}

const SITE_EXAMPLE = 'e.g. --site prod@10.0.1.5:50051 or --site prod@10.0.1.5:50051,10.0.1.6:50051';

/** Parses one `--site CLUSTER@HOST:PORT[,HOST:PORT...]`; throws InvalidArgumentError saying what is wrong. */
export function parseSiteSpec(value: string): SiteSpec {
  const given = value.trim();
  const at = given.lastIndexOf('@');
  if (at < 0) throw new InvalidArgumentError(`Give CLUSTER@HOST:PORT[,HOST:PORT...] (the cluster on the other site, then its control planes), ${SITE_EXAMPLE}.`);
  const cluster = given.slice(0, at).trim();
  if (cluster === '') throw new InvalidArgumentError(`The cluster before '@' is missing: ${SITE_EXAMPLE}.`);
  const list = parseControlPlaneList(given.slice(at + 1));
  if ('problem' in list) throw new InvalidArgumentError(`After '@', give the other site's control planes, HOST:PORT[,HOST:PORT...]: ${list.problem}; ${SITE_EXAMPLE}.`);
  return { cluster, controlPlanes: list.addresses, given };
}

/** commander's collector for the repeatable `--site`. */
export function siteCollector(value: string, previous: unknown): readonly SiteSpec[] {
  return [...(Array.isArray(previous) ? (previous as SiteSpec[]) : []), parseSiteSpec(value)];
}

/** commander's collector for the repeatable file flags (`--site-token-file`, `--site-ca`). */
export function fileCollector(flag: string, example: string): (value: string, previous: unknown) => readonly string[] {
  return (value, previous) => {
    if (value.trim() === '') throw new InvalidArgumentError(`Give a file, e.g. ${flag} ${example}.`);
    return [...(Array.isArray(previous) ? (previous as string[]) : []), value.trim()];
  };
}

/**
 * Each --site with its --site-token-file (and --site-ca) by position. Throws UsageError when the
 * counts differ: a token file per --site, and --site-ca either never or once per --site.
 */
export function pairSites(sites: readonly SiteSpec[], tokenFiles: readonly string[], caFiles: readonly string[]): SiteOptions[] {
  if (sites.length === 0) {
    if (tokenFiles.length || caFiles.length) {
      throw new UsageError(`${tokenFiles.length ? '--site-token-file' : '--site-ca'} goes with --site CLUSTER@HOST:PORT: add the --site it belongs to.`);
    }
    return [];
  }
  const listed = sites.map((s) => `--site ${s.given}`).join(', ');
  if (tokenFiles.length !== sites.length) {
    throw new UsageError(
      `give one --site-token-file per --site, in the same order: ${sites.length} --site (${listed}) but ${tokenFiles.length} --site-token-file${tokenFiles.length ? ` (${tokenFiles.join(', ')})` : ''}.`,
    );
  }
  if (caFiles.length !== 0 && caFiles.length !== sites.length) {
    throw new UsageError(
      `give --site-ca once per --site, in the same order, or not at all (plaintext): ${sites.length} --site (${listed}) but ${caFiles.length} --site-ca (${caFiles.join(', ')}).`,
    );
  }
  return sites.map((site, i) => ({ ...site, tokenFile: tokenFiles[i]!, caFile: caFiles[i] }));
}

/** The token in a --site-token-file, trimmed; refused when unreadable or blank, naming the flag, the file and its site. */
export async function readSiteTokenFile(site: SiteOptions, cwd: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path.resolve(cwd, site.tokenFile), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --site-token-file '${site.tokenFile}' (for --site ${site.given}): ${describeFsError(error)}`, { cause: error });
  }
  const token = text.trim();
  if (token === '') {
    throw new CliError(`--site-token-file '${site.tokenFile}' (for --site ${site.given}) is empty: put that control plane's token in it (its admin token, from its data directory's admin-token)`);
  }
  return token;
}

/** The PEM in a --site-ca; refused when unreadable or blank. */
export async function readSiteCaFile(site: SiteOptions, cwd: string): Promise<{ ca: Buffer; caFile: string } | undefined> {
  if (site.caFile === undefined) return undefined;
  const file = path.resolve(cwd, site.caFile);
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (error) {
    throw new CliError(`cannot read --site-ca '${site.caFile}' (for --site ${site.given}): ${describeFsError(error)}`, { cause: error });
  }
  if (pem.toString('utf8').trim() === '') throw new CliError(`--site-ca '${site.caFile}' (for --site ${site.given}) is empty: give the PEM of the CA certificate`);
  return { ca: pem, caFile: file };
}

/** The two calls the configuration needs, from one control plane (an ApiClient). */
export interface SiteApi {
  listServers(cluster: string): Promise<ListServersResponse>;
  listChannels(cluster: string): Promise<ListChannelsResponse>;
}

/** One cluster to read, on one site. */
export interface SiteCluster {
  /** The site's label in server names and the header: its first control plane address. */
  readonly site: string;
  readonly cluster: string;
  /** How the user named it, for messages: `--site prod@10.0.1.5:50051`, or `cluster prod of --control-plane …`. */
  readonly described: string;
  readonly api: SiteApi;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads every cluster of every site, all at once. With `keepLastKnown` (more than one site), a site
 * whose control plane cannot be reached keeps the servers it had at its last answer, with a warning
 * (once per outage): the servers' own health checks decide, not the reachability of their control
 * plane. A site never heard from, or one that refuses (unknown cluster, bad token), fails the read.
 */
export class SiteStates {
  private readonly last = new Map<string, LbCluster>();
  private readonly out = new Set<string>();

  constructor(
    private readonly clusters: readonly SiteCluster[],
    private readonly keepLastKnown: boolean,
    private readonly log: (line: string) => void,
  ) {}

  async read(): Promise<LbCluster[]> {
    return Promise.all(this.clusters.map((c) => this.readOne(c)));
  }

  private async readOne(c: SiteCluster): Promise<LbCluster> {
    const key = `${c.site}\u0000${c.cluster}`;
    try {
      const [servers, channels] = await Promise.all([c.api.listServers(c.cluster), c.api.listChannels(c.cluster)]);
      const state: LbCluster = {
        name: c.cluster,
        ...(this.keepLastKnown && { site: c.site }),
        revision: Number(servers.revision),
        servers: servers.servers.map((s) => ({ name: s.name, httpAddress: s.httpAddress, connected: s.connected, drained: s.drained })),
        channelTimeoutsMs: channels.channels.map((ch) => ch.timeoutMs),
      };
      this.last.set(key, state);
      if (this.out.delete(key)) this.log(`${c.described}: the control plane answers again`);
      return state;
    } catch (error) {
      const kept = this.last.get(key);
      if (this.keepLastKnown && kept !== undefined && isUnreachable(error)) {
        if (!this.out.has(key)) {
          this.out.add(key);
          this.log(
            `warning: ${c.described}: ${message(error)}; keeping its ${kept.servers.length} last known server(s) in the configuration (their /healthz checks decide), retrying`,
          );
        }
        return kept;
      }
      if (!this.keepLastKnown) throw error;
      // Named, keeping the status code (an unreachable site is retried by --watch).
      const code = error instanceof CliError ? error.code : 'ERROR';
      throw new CliError(`${c.described}: ${message(error)}`, { cause: error, code, detail: `${c.described}: ${error instanceof CliError ? error.detail : message(error)}` });
    }
  }
}
