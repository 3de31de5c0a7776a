/**
 * `laneway connection create NAME --postgres|--mysql|--rest|--redis|--amqp URL …` and `… update NAME
 * …`: one factory, since a create and an update send the same request (an update replaces every
 * setting; only a secret sent empty keeps the stored one).
 *
 * The secret (SQL password, REST password/token/key, Redis/AMQP password) is read as the security
 * commands read theirs: typed at a prompt with echo off when stdin is a terminal, else stdin's first
 * line; from a visible argument only with `--secret-from-argument`. It is never printed.
 */
import { WaitFor } from '@laneway/proto';
import type { ConnectionSpec, PutConnectionRequest } from '@laneway/proto';
import { Argument } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from '../collect-files';
import { formatConnectionChange } from '../connection-format';
import type { ConnectionKind } from '../connection-format';
import { CliError } from '../errors';
import { namingFlags, type FlagNames } from '../flag-names';
import { reportResourceChange } from './channel-change';
import { defineCommand } from './command';
import type { CliCommand, CommandContext } from './command';
import {
  CONNECTION_CREATE_OPTIONS,
  CONNECTION_UPDATE_OPTIONS,
  readConnectionFields,
} from './connection-fields';
import type { ConnectionPutArgs, ConnectionSpecArgs } from './connection-fields';

/** The secret as the prompt and the errors name it, and a flag line for the "give one" hint. */
function secretName(spec: ConnectionSpecArgs): string {
  if (spec.kind === 'rest') {
    if (spec.auth.kind === 'bearer') return 'bearer token';
    if (spec.auth.kind === 'api-key') return 'API key';
  }
  return 'password';
}

/** Whether an empty secret is a connection without one (SQL), rather than a secret not given. */
function mayBeEmpty(spec: ConnectionSpecArgs): boolean {
  return spec.kind === 'postgres' || spec.kind === 'mysql';
}

/**
 * A connection's fields as the control plane names them (`spec.rest.timeout_ms`), and the flags (or
 * the part of the URL, or the secret read) they came from.
 */
export function connectionFlags(kind: ConnectionKind): FlagNames {
  const url = `--${kind}`;
  const spec = `spec.${kind}`;
  return {
    [`${spec}.url`]: url,
    [`${spec}.host`]: `the host of ${url}`,
    [`${spec}.port`]: `the port of ${url}`,
    [`${spec}.database`]: `the database of ${url}`,
    [`${spec}.user`]: `the user of ${url}`,
    [`${spec}.password`]: 'the password (read from the prompt or stdin)',
    [`${spec}.pool_size`]: '--pool-size',
    [`${spec}.statement_timeout_ms`]: '--statement-timeout',
    [`${spec}.tls_mode`]: '--tls-mode',
    [`${spec}.ca_pem`]: 'the --ca file',
    'spec.rest.base_url': '--rest',
    'spec.rest.headers': '--header',
    'spec.rest.timeout_ms': '--timeout',
    'spec.rest.retries': '--retries',
    'spec.rest.basic.username': '--basic-user',
    'spec.rest.basic.password': 'the password (read from the prompt or stdin)',
    'spec.rest.bearer.token': 'the bearer token (read from the prompt or stdin)',
    'spec.rest.api_key.header': '--api-key-header',
    'spec.rest.api_key.key': 'the API key (read from the prompt or stdin)',
    'spec.redis.key_prefix': '--key-prefix',
    wait_timeout_ms: '--wait-timeout',
  };
}

/** The command `create` or `update`. */
export function connectionPutCommand(verb: 'create' | 'update'): CliCommand {
  return defineCommand<ConnectionPutArgs>({
    name: verb,
    summary:
      verb === 'create'
        ? 'Create an outgoing connection (a database, HTTP API, Redis or RabbitMQ) that services use'
        : "Replace a connection's settings (a flag left out takes its default; an empty secret keeps the stored one)",
    arguments: [
      new Argument(
        'NAME',
        verb === 'create' ? 'the connection: letters, digits, ., - and _' : 'the connection',
      ),
    ],
    options: verb === 'create' ? CONNECTION_CREATE_OPTIONS : CONNECTION_UPDATE_OPTIONS,
    parse: ([name = ''], options) => readConnectionFields(name, options),
    async run(args, context) {
      const secret = await resolveSecret(verb, args, context);
      const caPem = args.spec.caFile === '' ? '' : await readCa(args.spec.caFile, context.cwd);
      const request: PutConnectionRequest = {
        cluster: context.config.cluster,
        name: args.name,
        spec: specOf(args.spec, secret, caPem),
        waitFor: args.waitFor,
        waitTimeoutMs: args.waitTimeoutMs,
      };
      const response = await namingFlags(connectionFlags(args.spec.kind), () =>
        verb === 'create' ? context.api.createConnection(request) : context.api.updateConnection(request),
      );
      return reportResourceChange(
        response,
        () =>
          formatConnectionChange(`${verb}d`, args.name, response, {
            waited: args.waitFor !== WaitFor.WAIT_FOR_NONE,
          }),
        context,
      );
    },
  });
}

/** The secret to send: '' is none (SQL), or on update the stored one kept. */
async function resolveSecret(
  verb: 'create' | 'update',
  args: ConnectionPutArgs,
  context: CommandContext,
): Promise<string> {
  const { secret, spec } = args;
  switch (secret.from) {
    case 'none':
    case 'keep':
      return '';
    case 'argument':
      return secret.value;
    case 'input': {
      const empty =
        verb === 'update' ? 'empty keeps the stored one' : mayBeEmpty(spec) ? 'empty for none' : undefined;
      const value = await context.readSecret(
        `${secretName(spec)} for '${args.name}' (not shown${empty ? `; ${empty}` : ''}): `,
      );
      if (value === '' && verb === 'create' && !mayBeEmpty(spec)) {
        throw new CliError(missingSecret(args), { exitCode: 2 });
      }
      return value;
    }
  }
}

function missingSecret(args: ConnectionPutArgs): string {
  const { spec } = args;
  const flags =
    spec.kind === 'rest'
      ? `--rest ${spec.baseUrl} ${spec.auth.kind === 'basic' ? `--basic-user ${spec.auth.username}` : spec.auth.kind === 'api-key' ? `--api-key-header ${spec.auth.header}` : '--bearer'}`
      : `--${spec.kind} ${spec.url} --password`;
  const variable =
    secretName(spec) === 'password' ? 'PASSWORD' : secretName(spec) === 'API key' ? 'KEY' : 'TOKEN';
  return (
    `no ${secretName(spec)} given for '${args.name}': type it at the prompt (stdin a terminal) or give it ` +
    `as stdin's first line, e.g. printf '%s\\n' "$${variable}" | laneway connection create ${args.name} ${flags}`
  );
}

async function readCa(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --ca '${file}': ${describeFsError(error)}`, { cause: error });
  }
}

/** The wire's spec: the one kind, its secret in its field ('' keeps the stored one on update). */
export function specOf(spec: ConnectionSpecArgs, secret: string, caPem: string): ConnectionSpec {
  switch (spec.kind) {
    case 'postgres':
    case 'mysql':
      return {
        [spec.kind]: {
          host: '',
          port: 0,
          database: '',
          user: '',
          password: secret,
          passwordSet: false,
          url: spec.url,
          tlsMode: spec.tlsMode,
          caPem,
          poolSize: spec.poolSize,
          statementTimeoutMs: spec.statementTimeoutMs,
          connectTimeoutMs: 0,
        },
      };
    case 'rest': {
      const { auth } = spec;
      return {
        rest: {
          baseUrl: spec.baseUrl,
          headers: { ...spec.headers },
          timeoutMs: spec.timeoutMs,
          retries: spec.retries,
          caPem,
          ...(auth.kind === 'basic' && {
            basic: { username: auth.username, password: secret, passwordSet: false },
          }),
          ...(auth.kind === 'bearer' && { bearer: { token: secret, tokenSet: false } }),
          ...(auth.kind === 'api-key' && { apiKey: { header: auth.header, key: secret, keySet: false } }),
        },
      };
    }
    case 'redis':
      return {
        redis: { url: spec.url, password: secret, passwordSet: false, keyPrefix: spec.keyPrefix, caPem },
      };
    case 'amqp':
      return { amqp: { url: spec.url, password: secret, passwordSet: false, confirm: spec.confirm, caPem } };
  }
}
