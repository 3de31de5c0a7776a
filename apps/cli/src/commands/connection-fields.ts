/**
 * The flags of `laneway connection create|update NAME` and what `parse` makes of them: one kind flag
 * (`--postgres URL`, `--mysql URL`, `--rest BASE_URL`, `--redis URL`, `--amqp URL`), the settings of
 * that kind, where its secret comes from, and the wait flags. No I/O here: the `--ca` file and the
 * secret are read when the command runs (connection-put.ts).
 *
 * Secrets never come from a visible argument unless asked for with `--secret-from-argument`: a
 * password inside a URL is refused without it, since the URL shows in `ps` and the shell history.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { ConnectionKind } from '../connection-format';
import { UsageError } from '../errors';
import type { OptionValues } from './command';
import { countParser, durationParser, nonEmptyParser, wholeNumberParser } from './option-parsers';
import { optionValue } from './option-values';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions } from './wait-options';
import type { WaitArgs } from './wait-options';

/** `--header 'name: value'`, repeatable: the pairs so far, this one added (a name given twice is refused). */
export function headerParser(value: string, previous: unknown): readonly (readonly [string, string])[] {
  const pairs = Array.isArray(previous) ? (previous as (readonly [string, string])[]) : [];
  const colon = value.indexOf(':');
  const name = colon === -1 ? '' : value.slice(0, colon).trim();
  if (name === '' || /\s/.test(name)) {
    throw new InvalidArgumentError("Give a header as 'name: value', e.g. --header 'x-tenant: acme'.");
  }
  if (pairs.some(([seen]) => seen.toLowerCase() === name.toLowerCase())) {
    throw new InvalidArgumentError(`The header '${name}' is given twice: give each header once.`);
  }
  return [...pairs, [name, value.slice(colon + 1).trim()]];
}

const TLS_MODES = ['disable', 'require', 'verify-full'] as const;

/** The kind flags, in the order the help and the errors name them. */
const KIND_FLAGS: Readonly<Record<ConnectionKind, { readonly flag: string; readonly example: string }>> = {
  postgres: { flag: '--postgres', example: 'postgres://app@db.local:5432/billing?sslmode=require' },
  mysql: { flag: '--mysql', example: 'mysql://app@db.local:3306/billing' },
  rest: { flag: '--rest', example: 'https://api.example.com/v1' },
  redis: { flag: '--redis', example: 'redis://cache.local:6379/0' },
  amqp: { flag: '--amqp', example: 'amqp://app@mq.local:5672/orders' },
};

/** Which kinds take a flag, by its attribute name (the flag is how the errors name it). */
const KIND_OPTIONS: readonly {
  readonly key: string;
  readonly flag: string;
  readonly kinds: readonly ConnectionKind[];
}[] = [
  { key: 'poolSize', flag: '--pool-size', kinds: ['postgres', 'mysql'] },
  { key: 'statementTimeout', flag: '--statement-timeout', kinds: ['postgres', 'mysql'] },
  { key: 'tlsMode', flag: '--tls-mode', kinds: ['postgres', 'mysql'] },
  { key: 'header', flag: '--header', kinds: ['rest'] },
  { key: 'timeout', flag: '--timeout', kinds: ['rest'] },
  { key: 'retries', flag: '--retries', kinds: ['rest'] },
  { key: 'basicUser', flag: '--basic-user', kinds: ['rest'] },
  { key: 'bearer', flag: '--bearer', kinds: ['rest'] },
  { key: 'apiKeyHeader', flag: '--api-key-header', kinds: ['rest'] },
  { key: 'keyPrefix', flag: '--key-prefix', kinds: ['redis'] },
  { key: 'confirm', flag: '--confirm', kinds: ['amqp'] },
  { key: 'password', flag: '--password', kinds: ['redis', 'amqp'] },
];

function kindOption(kind: ConnectionKind, what: string): Option {
  const { flag, example } = KIND_FLAGS[kind];
  return new Option(`${flag} <URL>`, `${what}, e.g. ${example}`).argParser(
    nonEmptyParser(`a URL, e.g. ${flag} ${example}`),
  );
}

function connectionOptions(verb: 'create' | 'update'): readonly Option[] {
  return Object.freeze([
    kindOption('postgres', 'PostgreSQL at this URL (a password in it needs --secret-from-argument)'),
    kindOption('mysql', 'MySQL / MariaDB at this URL (a password in it needs --secret-from-argument)'),
    kindOption('rest', 'an HTTP API under this base URL (http:// or https://)'),
    kindOption('redis', 'Redis at this URL (redis:// or rediss://)'),
    kindOption('amqp', 'RabbitMQ at this URL (amqp:// or amqps://)'),
    new Option('--pool-size <N>', 'SQL: connections per server (default 10)').argParser(
      countParser('--pool-size'),
    ),
    new Option(
      '--statement-timeout <DURATION>',
      'SQL: bound on each statement, e.g. 5s (default none)',
    ).argParser(durationParser('--statement-timeout', '5s')),
    new Option('--tls-mode <MODE>', "SQL: TLS (default the URL's sslmode, else disable)").choices(TLS_MODES),
    new Option(
      '--header <NAME: VALUE>',
      'REST: a header sent with every call (repeatable; not for secrets)',
    ).argParser(headerParser),
    new Option('--timeout <DURATION>', 'REST: deadline of each attempt, e.g. 10s (default 10s)').argParser(
      durationParser('--timeout', '10s'),
    ),
    new Option(
      '--retries <N>',
      'REST: extra attempts of GET, HEAD, PUT and DELETE (default 0, at most 10)',
    ).argParser(wholeNumberParser('--retries', 2)),
    new Option(
      '--basic-user <USER>',
      'REST: HTTP basic auth as USER (the password is read: prompt or stdin)',
    ).argParser(nonEmptyParser('a user name, e.g. --basic-user billing')),
    new Option('--bearer', 'REST: send a bearer token (read: prompt or stdin)'),
    new Option(
      '--api-key-header <NAME>',
      'REST: send a key in this header (the key is read: prompt or stdin)',
    ).argParser(nonEmptyParser('an HTTP header name, e.g. --api-key-header x-api-key')),
    new Option('--key-prefix <PREFIX>', 'Redis: prepended to every key the services use').argParser(
      nonEmptyParser('a key prefix, e.g. --key-prefix billing:'),
    ),
    new Option('--confirm', 'AMQP: publisher confirms (publish resolves once the broker has the message)'),
    new Option('--password', 'Redis, AMQP: a password (read: prompt or stdin)'),
    new Option(
      '--ca <FILE>',
      'a PEM file: the CA that signed the TLS certificate of the database, API or broker',
    ).argParser(nonEmptyParser('a PEM file, e.g. --ca db-ca.pem')),
    new Option(
      '--secret-from-argument [VALUE]',
      'the secret itself instead of the prompt or stdin, or alone: accept the password in the URL (it shows in `ps` and the shell history)',
    ),
    ...(verb === 'update'
      ? [
          new Option('--keep-secret', 'keep the stored password, token or key: read none').conflicts(
            'secretFromArgument',
          ),
        ]
      : []),
    ...CHANNEL_WAIT_OPTIONS,
  ]);
}

export const CONNECTION_CREATE_OPTIONS: readonly Option[] = connectionOptions('create');
export const CONNECTION_UPDATE_OPTIONS: readonly Option[] = connectionOptions('update');

export type RestAuthArgs =
  | { readonly kind: 'none' }
  | { readonly kind: 'basic'; readonly username: string }
  | { readonly kind: 'bearer' }
  | { readonly kind: 'api-key'; readonly header: string };

/** A connection's settings as the flags give them, secrets apart. `caFile` '': none. */
export type ConnectionSpecArgs =
  | {
      readonly kind: 'postgres' | 'mysql';
      /** The URL without its password (which, with --secret-from-argument, is the secret). */
      readonly url: string;
      /** 0: the servers' default (10). */
      readonly poolSize: number;
      /** 0: none. */
      readonly statementTimeoutMs: number;
      /** '': the URL's sslmode, else disable. */
      readonly tlsMode: string;
      readonly caFile: string;
    }
  | {
      readonly kind: 'rest';
      readonly baseUrl: string;
      readonly headers: Readonly<Record<string, string>>;
      /** 0: the servers' default (10 s). */
      readonly timeoutMs: number;
      readonly retries: number;
      readonly auth: RestAuthArgs;
      readonly caFile: string;
    }
  | { readonly kind: 'redis'; readonly url: string; readonly keyPrefix: string; readonly caFile: string }
  | { readonly kind: 'amqp'; readonly url: string; readonly confirm: boolean; readonly caFile: string };

/** Where the connection's secret (SQL password, REST password/token/key, Redis/AMQP password) comes from. */
export type ConnectionSecretSource =
  /** This connection has none to give (REST without auth, Redis or AMQP without --password). */
  | { readonly from: 'none' }
  /** `--keep-secret` (update): none read, sent empty, the stored one kept. */
  | { readonly from: 'keep' }
  /** A prompt with echo off (stdin a terminal), else stdin's first line. */
  | { readonly from: 'input' }
  /** `--secret-from-argument VALUE`, or the URL's password with `--secret-from-argument`. */
  | { readonly from: 'argument'; readonly value: string };

export interface ConnectionPutArgs {
  readonly name: string;
  readonly spec: ConnectionSpecArgs;
  readonly secret: ConnectionSecretSource;
  readonly waitFor: WaitArgs['waitFor'];
  /** 0: the control plane's default (10 s). */
  readonly waitTimeoutMs: number;
}

/** What the flags of `connection create|update NAME` say; a combination they refuse is a UsageError. */
export function readConnectionFields(name: string, options: OptionValues): ConnectionPutArgs {
  const kind = readKind(options);
  for (const option of KIND_OPTIONS) {
    if (options[option.key] !== undefined && !option.kinds.includes(kind)) {
      throw new UsageError(
        `${option.flag} does not apply to ${KIND_FLAGS[kind].flag}: it goes with ${option.kinds.map((k) => KIND_FLAGS[k].flag).join(' or ')}`,
      );
    }
  }
  const rawUrl = optionValue.string(options, kind) ?? '';
  const { url, password } = splitUrl(kind, rawUrl);
  const caFile = optionValue.string(options, 'ca') ?? '';
  const spec = readSpec(kind, url, caFile, options);
  const wait = readWaitOptions(options, 'wait-timeout');
  return {
    name,
    spec,
    secret: readSecretSource(spec, password, options),
    waitFor: wait.waitFor,
    waitTimeoutMs: wait.timeoutMs,
  };
}

function readKind(options: OptionValues): ConnectionKind {
  const given = (Object.keys(KIND_FLAGS) as ConnectionKind[]).filter((k) => options[k] !== undefined);
  const flags = Object.values(KIND_FLAGS).map((k) => `${k.flag} URL`);
  if (given.length === 0) {
    throw new UsageError(`give the kind of connection: one of ${flags.join(', ')}`);
  }
  if (given.length > 1) {
    throw new UsageError(
      `give one kind of connection, not ${given.map((k) => KIND_FLAGS[k].flag).join(' and ')}`,
    );
  }
  return given[0]!;
}

/**
 * The URL without its password, and the password (undefined when it holds none). A URL that does not
 * parse is refused here, without echoing it (it may hold a password); the control plane checks the
 * rest (scheme, host, database) and names the field.
 */
function splitUrl(kind: ConnectionKind, raw: string): { readonly url: string; readonly password?: string } {
  const { flag, example } = KIND_FLAGS[kind];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${flag} is not a URL: give one like ${example}`);
  }
  if (kind === 'rest') {
    if (url.username !== '' || url.password !== '') {
      throw new UsageError(
        `${flag} holds credentials: leave them out and give --basic-user USER, --bearer or --api-key-header NAME (the secret is read from the prompt or stdin)`,
      );
    }
    return { url: raw };
  }
  if (url.password === '') return { url: raw };
  const password = safeDecode(url.password);
  url.password = '';
  return { url: url.toString(), password };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function readSpec(
  kind: ConnectionKind,
  url: string,
  caFile: string,
  options: OptionValues,
): ConnectionSpecArgs {
  switch (kind) {
    case 'postgres':
    case 'mysql':
      return {
        kind,
        url,
        poolSize: optionValue.number(options, 'poolSize') ?? 0,
        statementTimeoutMs: optionValue.number(options, 'statementTimeout') ?? 0,
        tlsMode: optionValue.string(options, 'tlsMode') ?? '',
        caFile,
      };
    case 'rest': {
      const pairs = Array.isArray(options['header']) ? (options['header'] as [string, string][]) : [];
      return {
        kind,
        baseUrl: url,
        headers: Object.fromEntries(pairs),
        timeoutMs: optionValue.number(options, 'timeout') ?? 0,
        retries: optionValue.number(options, 'retries') ?? 0,
        auth: readRestAuth(options),
        caFile,
      };
    }
    case 'redis':
      return { kind, url, keyPrefix: optionValue.string(options, 'keyPrefix') ?? '', caFile };
    case 'amqp':
      return { kind, url, confirm: optionValue.flag(options, 'confirm'), caFile };
  }
}

function readRestAuth(options: OptionValues): RestAuthArgs {
  const username = optionValue.string(options, 'basicUser');
  const bearer = optionValue.flag(options, 'bearer');
  const header = optionValue.string(options, 'apiKeyHeader');
  const given = [
    username !== undefined && '--basic-user',
    bearer && '--bearer',
    header !== undefined && '--api-key-header',
  ];
  const flags = given.filter((flag): flag is string => typeof flag === 'string');
  if (flags.length > 1) throw new UsageError(`give one way to authenticate, not ${flags.join(' and ')}`);
  if (username !== undefined) return { kind: 'basic', username };
  if (bearer) return { kind: 'bearer' };
  if (header !== undefined) return { kind: 'api-key', header };
  return { kind: 'none' };
}

/** Whether the settings carry a secret to read: SQL always (empty: none), REST with auth, Redis/AMQP with --password. */
function takesSecret(spec: ConnectionSpecArgs, options: OptionValues): boolean {
  switch (spec.kind) {
    case 'postgres':
    case 'mysql':
      return true;
    case 'rest':
      return spec.auth.kind !== 'none';
    case 'redis':
    case 'amqp':
      return optionValue.flag(options, 'password');
  }
}

function readSecretSource(
  spec: ConnectionSpecArgs,
  urlPassword: string | undefined,
  options: OptionValues,
): ConnectionSecretSource {
  const fromArgument = options['secretFromArgument'];
  const keep = optionValue.flag(options, 'keepSecret');
  const flag = KIND_FLAGS[spec.kind].flag;
  if (urlPassword !== undefined) {
    if (fromArgument === undefined) {
      throw new UsageError(
        `the ${flag} URL holds a password, which shows in \`ps\` and the shell history: leave it out (it is then read from the prompt or stdin), or accept that with --secret-from-argument`,
      );
    }
    if (typeof fromArgument === 'string') {
      throw new UsageError(
        `the ${flag} URL holds a password and --secret-from-argument gives another: give one`,
      );
    }
    if (keep)
      throw new UsageError(
        `the ${flag} URL holds a password, and --keep-secret keeps the stored one: give one`,
      );
    return { from: 'argument', value: urlPassword };
  }
  if (typeof fromArgument === 'string') {
    // Redis and AMQP: a password given is a password asked for.
    if (spec.kind === 'rest' && spec.auth.kind === 'none') {
      throw new UsageError(
        '--secret-from-argument has no secret to give: add --basic-user USER, --bearer or --api-key-header NAME',
      );
    }
    return { from: 'argument', value: fromArgument };
  }
  if (fromArgument === true) {
    throw new UsageError(
      `--secret-from-argument alone accepts a password in the ${flag} URL, which holds none: give the secret after it (--secret-from-argument VALUE), or leave it out to be asked`,
    );
  }
  if (keep) {
    if ((spec.kind === 'redis' || spec.kind === 'amqp') && optionValue.flag(options, 'password')) {
      throw new UsageError(
        '--password reads a new password, and --keep-secret keeps the stored one: give one',
      );
    }
    return { from: 'keep' };
  }
  return takesSecret(spec, options) ? { from: 'input' } : { from: 'none' };
}
