import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseControlPlaneList } from './control-plane-list';
import { CliError } from './errors';

/** Where the CLI talks to and as whom. The only place that reads the environment. */
export interface CliConfig {
  /**
   * HOST:PORTs of the control planes' gRPC API (control planes sharing one store), in the order they
   * are tried: a call that cannot connect to one goes to the next.
   */
  readonly controlPlanes: readonly string[];
  /** The cluster the commands act on. */
  readonly cluster: string;
  /** Sent as `authorization: Bearer <token>` when set. */
  readonly token?: string;
  /** LANEWAY_TLS_CA as given (relative to the working directory): the CA file to verify the control plane with. */
  readonly tlsCa?: string;
}

export const DEFAULT_CONTROL_PLANE = '127.0.0.1:50051';
export const DEFAULT_CLUSTER = 'default';
/** The control plane's default LANEWAY_DATA_DIR, relative to the directory it was started in. */
export const DEFAULT_DATA_DIR = './.laneway';

/**
 * Reads LANEWAY_CONTROL_PLANE (a comma-separated list), LANEWAY_CLUSTER, LANEWAY_TOKEN and
 * LANEWAY_TLS_CA; empty values count as unset. Throws CliError naming a bad LANEWAY_CONTROL_PLANE.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return Object.freeze({
    controlPlanes: controlPlaneList('LANEWAY_CONTROL_PLANE', nonEmpty(env['LANEWAY_CONTROL_PLANE']) ?? DEFAULT_CONTROL_PLANE),
    cluster: nonEmpty(env['LANEWAY_CLUSTER']) ?? DEFAULT_CLUSTER,
    token: nonEmpty(env['LANEWAY_TOKEN']),
    tlsCa: nonEmpty(env['LANEWAY_TLS_CA']),
  });
}

/**
 * The config with the command line's `--control-plane` / `--cluster` applied on top, and `token`
 * (found outside the environment: see readAdminTokenFile) used when the config has none.
 */
export function applyOverrides(
  config: CliConfig,
  overrides: {
    controlPlane?: string | undefined;
    cluster?: string | undefined;
    token?: string | undefined;
  },
): CliConfig {
  return Object.freeze({
    controlPlanes: overrides.controlPlane === undefined ? config.controlPlanes : controlPlaneList('--control-plane', overrides.controlPlane),
    cluster: overrides.cluster ?? config.cluster,
    token: config.token ?? overrides.token,
    tlsCa: config.tlsCa,
  });
}

/** `<LANEWAY_DATA_DIR, default ./.laneway>/admin-token`, resolved against `cwd`. */
export function adminTokenPath(env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(cwd, nonEmpty(env['LANEWAY_DATA_DIR']) ?? DEFAULT_DATA_DIR, 'admin-token');
}

/**
 * The admin token a control plane started in `cwd` generated and keeps in its data directory, so that
 * on its host the CLI works without LANEWAY_TOKEN. Undefined when the file does not exist or is empty;
 * throws CliError when it exists but cannot be read.
 */
export async function readAdminTokenFile(env: NodeJS.ProcessEnv, cwd: string): Promise<string | undefined> {
  const file = adminTokenPath(env, cwd);
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CliError(
      `cannot read the admin token in '${file}' (${code ?? String(error)}): set LANEWAY_TOKEN`,
      {
        cause: error,
      },
    );
  }
  // One line; trimmed as the control plane does when it reads the file back.
  return nonEmpty(content);
}

/** `<LANEWAY_DATA_DIR, default ./.laneway>/ca.pem`: where a control plane with generated certificates publishes its CA. */
export function dataDirCaPath(env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(cwd, nonEmpty(env['LANEWAY_DATA_DIR']) ?? DEFAULT_DATA_DIR, 'ca.pem');
}

/** The CA the CLI verifies the control plane with, and where it came from. */
export interface TlsCa {
  readonly ca: Buffer;
  readonly file: string;
  readonly source: 'LANEWAY_TLS_CA' | 'data-dir';
}

/**
 * LANEWAY_TLS_CA when set (it must be readable), else the CA a control plane started in `cwd` with
 * generated certificates published in its data directory; undefined (plaintext) when neither exists.
 */
export async function readTlsCa(config: CliConfig, env: NodeJS.ProcessEnv, cwd: string): Promise<TlsCa | undefined> {
  if (config.tlsCa !== undefined) {
    const file = path.resolve(cwd, config.tlsCa);
    try {
      return { ca: await readFile(file), file, source: 'LANEWAY_TLS_CA' };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(`LANEWAY_TLS_CA=${config.tlsCa}: cannot read the CA file '${file}' (${code ?? String(error)})`, { cause: error });
    }
  }
  const file = dataDirCaPath(env, cwd);
  try {
    return { ca: await readFile(file), file, source: 'data-dir' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CliError(`cannot read the control plane's CA in '${file}' (${code ?? String(error)}): set LANEWAY_TLS_CA`, { cause: error });
  }
}

/** The addresses of a list, or a CliError naming where it came from, the value and the bad entry. */
function controlPlaneList(source: 'LANEWAY_CONTROL_PLANE' | '--control-plane', value: string): readonly string[] {
  const parsed = parseControlPlaneList(value);
  if ('problem' in parsed) {
    const given = source === '--control-plane' ? `--control-plane ${value}` : `${source}=${value}`;
    throw new CliError(`${given}: ${parsed.problem}`);
  }
  return Object.freeze(parsed.addresses);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
