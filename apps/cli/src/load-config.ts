/** Where the CLI talks to and as whom. The only place that reads the environment. */
export interface CliConfig {
  /** host:port of the control plane's gRPC API. */
  readonly controlPlane: string;
  /** The cluster the commands act on. */
  readonly cluster: string;
  /** Sent as `authorization: Bearer <token>` when set. */
  readonly token?: string;
}

export const DEFAULT_CONTROL_PLANE = '127.0.0.1:50051';
export const DEFAULT_CLUSTER = 'default';

/** Reads LANEWAY_CONTROL_PLANE, LANEWAY_CLUSTER and LANEWAY_TOKEN; empty values count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return Object.freeze({
    controlPlane: nonEmpty(env['LANEWAY_CONTROL_PLANE']) ?? DEFAULT_CONTROL_PLANE,
    cluster: nonEmpty(env['LANEWAY_CLUSTER']) ?? DEFAULT_CLUSTER,
    token: nonEmpty(env['LANEWAY_TOKEN']),
  });
}

/** The config with the command line's `--control-plane` / `--cluster` applied on top. */
export function applyOverrides(
  config: CliConfig,
  overrides: { controlPlane?: string | undefined; cluster?: string | undefined },
): CliConfig {
  return Object.freeze({
    controlPlane: overrides.controlPlane ?? config.controlPlane,
    cluster: overrides.cluster ?? config.cluster,
    token: config.token,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
