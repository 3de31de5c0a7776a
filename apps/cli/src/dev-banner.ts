import path from 'node:path';
import { DEFAULT_CLUSTER, DEFAULT_CONTROL_PLANE, DEFAULT_DATA_DIR } from './load-config';

/** What `laneway dev` started, once every part is up. */
export interface DevCluster {
  readonly cluster: string;
  /** The control plane's gRPC API, HOST:PORT. */
  readonly grpcAddress: string;
  /** The control plane's HTTP listener (web admin, /metrics, /healthz), http://HOST:PORT/. */
  readonly webAdminUrl: string;
  /** The server's channel listener, http://HOST:PORT/. */
  readonly channelsUrl: string;
  readonly serverName: string;
  /** Absolute. */
  readonly dataDir: string;
  /** Where the admin token is kept; undefined when it came from LANEWAY_ADMIN_TOKEN. */
  readonly adminTokenFile: string | undefined;
  readonly logFiles: { readonly controlPlane: string; readonly server: string };
  readonly pids: { readonly controlPlane: number; readonly server: number };
}

/** What the banner needs to know of where it runs. */
export interface BannerContext {
  readonly cwd: string;
  /** The environment the follow-up commands will see (this terminal's). */
  readonly env: NodeJS.ProcessEnv;
  /** Whether ./examples/hello.ts is there to deploy (a clone of the repository). */
  readonly hasExample: boolean;
}

/**
 * The variables another terminal needs so that `npx laneway …` reaches this cluster as admin: only
 * those whose value the CLI would not already take (from this environment, or its defaults), in the
 * order of an `export` line.
 */
export function followUpEnv(
  dev: DevCluster,
  context: Pick<BannerContext, 'cwd' | 'env'>,
): Record<string, string> {
  const env = context.env;
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const vars: Record<string, string> = {};
  // Also when this terminal's variable already says so: the other terminal may not have it.
  if (
    dev.grpcAddress !== DEFAULT_CONTROL_PLANE ||
    (set('LANEWAY_CONTROL_PLANE') ?? DEFAULT_CONTROL_PLANE) !== dev.grpcAddress
  ) {
    vars['LANEWAY_CONTROL_PLANE'] = dev.grpcAddress;
  }
  if (dev.cluster !== DEFAULT_CLUSTER || (set('LANEWAY_CLUSTER') ?? DEFAULT_CLUSTER) !== dev.cluster)
    vars['LANEWAY_CLUSTER'] = dev.cluster;
  if (dev.adminTokenFile === undefined) {
    vars['LANEWAY_TOKEN'] = '"$LANEWAY_ADMIN_TOKEN"';
  } else {
    const cliDataDir = path.resolve(context.cwd, set('LANEWAY_DATA_DIR') ?? DEFAULT_DATA_DIR);
    const defaultDataDir = path.resolve(context.cwd, DEFAULT_DATA_DIR);
    if (dev.dataDir !== defaultDataDir || cliDataDir !== dev.dataDir)
      vars['LANEWAY_DATA_DIR'] = shown(dev.dataDir, context.cwd);
    // LANEWAY_TOKEN wins over the token file: a token for another control plane would be refused here.
    if (set('LANEWAY_TOKEN') !== undefined)
      vars['LANEWAY_TOKEN'] = `"$(cat ${shown(dev.adminTokenFile, context.cwd)})"`;
  }
  return vars;
}

/** The banner printed once the cluster is up: where everything is, how to sign in, what to try. */
export function formatDevBanner(dev: DevCluster, context: BannerContext): string {
  const file = (p: string): string => shown(p, context.cwd);
  const signIn =
    dev.adminTokenFile === undefined
      ? 'user admin, password: the admin token ($LANEWAY_ADMIN_TOKEN) until you change it'
      : `user admin, password: the admin token in ${file(dev.adminTokenFile)} until you change it (cat ${file(dev.adminTokenFile)})`;
  const vars = followUpEnv(dev, context);
  const exportLine = Object.keys(vars).length
    ? [
        `export ${Object.entries(vars)
          .map(([name, value]) => `${name}=${value}`)
          .join(' ')}`,
      ]
    : [];
  const channel = new URL('greet/Ada', dev.channelsUrl).toString();
  const tryIt = context.hasExample
    ? [
        'npx laneway deploy examples/hello.ts',
        `npx laneway invoke hello.greet --data '{"name":"Ada"}'`,
        'npx laneway channel create greet --method POST --path /greet/:name --service hello.greet',
        `curl -X POST ${channel}`,
      ]
    : ['npx laneway deploy PATH/TO/SERVICES', `npx laneway invoke SERVICE --data '{}'`];
  return [
    `Laneway dev cluster '${dev.cluster}' is up. Ctrl-C stops it; its data stays in ${file(dev.dataDir)} for the next run.`,
    '',
    `  Web admin   ${dev.webAdminUrl}`,
    `  Sign in     ${signIn}`,
    `  gRPC API    ${dev.grpcAddress}`,
    `  Channels    ${dev.channelsUrl}  (server ${dev.serverName})`,
    `  Logs        ${file(dev.logFiles.controlPlane)}, ${file(dev.logFiles.server)}`,
    '',
    'Try it from another terminal, in this directory:',
    '',
    ...[...exportLine, ...tryIt].map((line) => `  ${line}`),
    '',
  ].join('\n');
}

/** `--json`: the same as one object. */
export function devJson(
  dev: DevCluster,
  context: Pick<BannerContext, 'cwd' | 'env'>,
): Record<string, unknown> {
  return {
    cluster: dev.cluster,
    webAdmin: dev.webAdminUrl,
    grpc: dev.grpcAddress,
    channels: dev.channelsUrl,
    server: dev.serverName,
    dataDir: dev.dataDir,
    adminTokenFile: dev.adminTokenFile ?? null,
    logs: dev.logFiles,
    pids: dev.pids,
    env: followUpEnv(dev, context),
  };
}

/** A path as the user would type it here: relative when it is under `cwd`. */
export function shown(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
