import path from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { runDevCluster } from '../dev-cluster';
import { findDevEntryPoints } from '../dev-entries';
import { DEFAULT_DATA_DIR } from '../load-config';
import { defineCommand } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

export interface DevArgs {
  /** `--data-dir`, as given; undefined: $LANEWAY_DATA_DIR, else ./.laneway. */
  readonly dataDir: string | undefined;
  /** `--grpc-port`; undefined: the port of the CLI's control plane address when it is on loopback, else 50051. */
  readonly grpcPort: number | undefined;
  readonly httpPort: number;
  readonly adminPort: number;
  readonly queuePrefix: string | undefined;
}

export const DEFAULT_DEV_GRPC_PORT = 50051;
export const DEFAULT_DEV_HTTP_PORT = 8080;
export const DEFAULT_DEV_ADMIN_PORT = 8090;
/** The one server's name: the same on every run, so `laneway servers` lists one row, not one per run. */
export const DEV_SERVER_NAME = 'dev-server';

/** `--x-port PORT`: 0 (any free port) to 65535. */
function portParser(flag: string, example: number): (value: string) => number {
  return (value) => {
    const port = /^\s*\d{1,5}\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!(port >= 0 && port <= 65535))
      throw new InvalidArgumentError(`Give a port from 0 (any free port) to 65535, e.g. ${flag} ${example}.`);
    return port;
  };
}

/** `--queue-prefix`: what LANEWAY_QUEUE_PREFIX takes. */
function queuePrefixParser(value: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value))
    throw new InvalidArgumentError('Give letters, digits, - and _ only, e.g. --queue-prefix dev.');
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The gRPC port when --grpc-port is not given: where the CLI already looks for its control plane
 * (`--control-plane` / LANEWAY_CONTROL_PLANE) when that is one loopback address, so the commands of
 * this terminal reach the dev cluster as they are; else 50051, the CLI's default.
 */
export function defaultGrpcPort(controlPlanes: readonly string[]): number {
  const [only] = controlPlanes;
  if (controlPlanes.length !== 1 || only === undefined) return DEFAULT_DEV_GRPC_PORT;
  const at = only.lastIndexOf(':');
  const port = Number(only.slice(at + 1));
  return LOOPBACK.has(only.slice(0, at)) && Number.isInteger(port) && port > 0 && port <= 65535
    ? port
    : DEFAULT_DEV_GRPC_PORT;
}

export const devCommand = defineCommand<DevArgs>({
  name: 'dev',
  summary:
    'Run a whole cluster in this terminal: a control plane (embedded store), one server and the web admin; Ctrl-C stops it',
  arguments: [],
  options: [
    new Option(
      '--data-dir <DIR>',
      `the control plane's store, admin token and keys, and the logs, kept between runs (default $LANEWAY_DATA_DIR, else ${DEFAULT_DATA_DIR}, where the CLI finds the admin token)`,
    ).argParser(nonEmptyParser('a directory, e.g. --data-dir .laneway')),
    new Option(
      '--grpc-port <PORT>',
      `the control plane's gRPC API on 127.0.0.1 (default: the port of --control-plane / $LANEWAY_CONTROL_PLANE when on loopback, else ${DEFAULT_DEV_GRPC_PORT}; 0: any free port)`,
    ).argParser(portParser('--grpc-port', DEFAULT_DEV_GRPC_PORT)),
    new Option('--http-port <PORT>', `the server's channels on 127.0.0.1 (0: any free port)`)
      .argParser(portParser('--http-port', DEFAULT_DEV_HTTP_PORT))
      .default(DEFAULT_DEV_HTTP_PORT),
    new Option('--admin-port <PORT>', `the web admin, /metrics and /healthz on 127.0.0.1 (0: any free port)`)
      .argParser(portParser('--admin-port', DEFAULT_DEV_ADMIN_PORT))
      .default(DEFAULT_DEV_ADMIN_PORT),
    new Option(
      '--queue-prefix <PREFIX>',
      'prefix of the Redis keys of the lanes (default $LANEWAY_QUEUE_PREFIX, else laneway), so that two clusters can share one Redis',
    ).argParser(queuePrefixParser),
  ],
  parse: (_positionals, options) => ({
    dataDir: optionValue.string(options, 'dataDir'),
    grpcPort: optionValue.number(options, 'grpcPort'),
    httpPort: optionValue.number(options, 'httpPort') ?? DEFAULT_DEV_HTTP_PORT,
    adminPort: optionValue.number(options, 'adminPort') ?? DEFAULT_DEV_ADMIN_PORT,
    queuePrefix: optionValue.string(options, 'queuePrefix'),
  }),
  async run(args, context) {
    // This file is bundled into dist/apps/cli/main.js: the control plane and the server are beside it.
    const entries = findDevEntryPoints(__dirname);
    const dataDir = path.resolve(
      context.cwd,
      args.dataDir ?? (context.env['LANEWAY_DATA_DIR']?.trim() || DEFAULT_DATA_DIR),
    );
    return runDevCluster(
      {
        dataDir,
        cluster: context.config.cluster,
        grpcPort: args.grpcPort ?? defaultGrpcPort(context.config.controlPlanes),
        httpPort: args.httpPort,
        adminPort: args.adminPort,
        queuePrefix: args.queuePrefix,
        serverName: DEV_SERVER_NAME,
      },
      entries,
      {
        cwd: context.cwd,
        env: context.env,
        json: context.json,
        out: context.out,
        err: context.err,
        signals: process,
      },
    );
  },
});
