/**
 * `laneway security create-api-key|create-basic|create-jwt NAME …` and the matching `update-*`:
 * one factory, since a create and an update send the same request (an update replaces every field;
 * only a secret left empty keeps the stored one).
 *
 * Secrets never come from a visible argument unless asked for with `--secret-from-argument`: they
 * are typed at a prompt with echo off when stdin is a terminal, else read as stdin's first line.
 */
import { WaitFor } from '@laneway/proto';
import type { PutSecurityDefinitionRequest } from '@laneway/proto';
import { Argument, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from '../collect-files';
import { CliError, UsageError } from '../errors';
import { namingFlags, type FlagNames } from '../flag-names';
import { formatSecurityChange } from '../format';
import { reportResourceChange } from './channel-change';
import { defineCommand } from './command';
import type { CliCommand, CommandContext, OptionValues } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions } from './wait-options';
import type { WaitArgs } from './wait-options';

/** Bytes of a `--generate`d API key (sent and printed as base64url: 43 characters). */
export const GENERATED_KEY_BYTES = 32;

export type SecurityKind = 'api-key' | 'basic' | 'jwt';

/** Where the secret comes from. */
export type SecretSource =
  /** A prompt with echo off (stdin a terminal), else stdin's first line. */
  | { readonly from: 'input' }
  /** `--secret-from-argument VALUE`: visible in `ps` and the shell history. */
  | { readonly from: 'argument'; readonly value: string }
  /** `--generate`: a random key, printed once. */
  | { readonly from: 'generate' }
  /** None to read: a JWT checked with a public key. */
  | { readonly from: 'none' };

export type SecurityAuthArgs =
  | { readonly kind: 'api-key'; readonly header: string }
  | { readonly kind: 'basic'; readonly username: string }
  /** `publicKeyFile` '': HS256 with the secret; else RS256/ES256 with the PEM in that file. */
  | {
      readonly kind: 'jwt';
      readonly publicKeyFile: string;
      /** '': any issuer. */
      readonly issuer: string;
      /** '': any audience. */
      readonly audience: string;
    };

export interface SecurityPutArgs {
  readonly name: string;
  readonly auth: SecurityAuthArgs;
  readonly secret: SecretSource;
  readonly waitFor: WaitArgs['waitFor'];
  /** 0: the control plane's default (10 s). */
  readonly waitTimeoutMs: number;
}

const SECRET_FROM_ARGUMENT = new Option(
  '--secret-from-argument <VALUE>',
  'the secret itself, instead of the prompt or stdin: it shows in `ps` and in the shell history',
);

const API_KEY_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--header <NAME>', 'the request header that carries the key, e.g. x-api-key')
    .argParser(nonEmptyParser('an HTTP header name, e.g. --header x-api-key'))
    .makeOptionMandatory(),
  new Option(
    '--generate',
    'make a random 32-byte key (base64url), print it once on stdout and send it',
  ).conflicts('secretFromArgument'),
  SECRET_FROM_ARGUMENT,
  ...CHANNEL_WAIT_OPTIONS,
]);

const BASIC_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--username <NAME>', 'the user name callers give (the password is read, not given here)')
    .argParser(nonEmptyParser('a user name, e.g. --username ada'))
    .makeOptionMandatory(),
  SECRET_FROM_ARGUMENT,
  ...CHANNEL_WAIT_OPTIONS,
]);

const JWT_OPTIONS: readonly Option[] = Object.freeze([
  new Option('--hs256', 'HS256: tokens signed with a shared secret (read from the prompt or stdin)'),
  new Option('--public-key <FILE>', "RS256 or ES256: the issuer's public key, a PEM file (SPKI)")
    .argParser(nonEmptyParser('a PEM file, e.g. --public-key issuer.pem'))
    .conflicts(['hs256', 'secretFromArgument']),
  new Option('--issuer <ISSUER>', "the tokens' iss (default: any)").argParser(
    nonEmptyParser("the tokens' issuer, e.g. --issuer https://id.example.com"),
  ),
  new Option('--audience <AUDIENCE>', "the tokens' aud (default: any)").argParser(
    nonEmptyParser("the tokens' audience, e.g. --audience laneway"),
  ),
  SECRET_FROM_ARGUMENT,
  ...CHANNEL_WAIT_OPTIONS,
]);

interface KindSpec {
  /** `an API-key`: the kind in a summary. */
  readonly noun: string;
  readonly options: readonly Option[];
  /** What the summary says the definition checks. */
  readonly checks: string;
  /** The secret, as the prompt and the errors name it. */
  readonly secretName: string;
  /** Flags that complete `laneway security create-KIND NAME` in the "give one" hint. */
  readonly exampleFlags: string;
  readonly exampleVariable: string;
  readAuth(options: OptionValues): SecurityAuthArgs;
}

const KINDS: Readonly<Record<SecurityKind, KindSpec>> = Object.freeze({
  'api-key': {
    noun: 'an API-key',
    options: API_KEY_OPTIONS,
    checks: 'callers send a key in a request header',
    secretName: 'API key',
    exampleFlags: '--header x-api-key',
    exampleVariable: 'KEY',
    readAuth: (options) => ({ kind: 'api-key', header: optionValue.string(options, 'header') ?? '' }),
  },
  basic: {
    noun: 'a basic-auth',
    options: BASIC_OPTIONS,
    checks: 'callers use HTTP basic auth',
    secretName: 'password',
    exampleFlags: '--username ada',
    exampleVariable: 'PASSWORD',
    readAuth: (options) => ({ kind: 'basic', username: optionValue.string(options, 'username') ?? '' }),
  },
  jwt: {
    noun: 'a JWT',
    options: JWT_OPTIONS,
    checks: 'callers send a bearer JWT',
    secretName: 'HS256 secret',
    exampleFlags: '--hs256',
    exampleVariable: 'SECRET',
    readAuth(options) {
      const publicKeyFile = optionValue.string(options, 'publicKey') ?? '';
      if (publicKeyFile === '' && !optionValue.flag(options, 'hs256')) {
        throw new UsageError(
          'give --hs256 (a shared secret, read from the prompt or stdin) or --public-key FILE (RS256/ES256)',
        );
      }
      return {
        kind: 'jwt',
        publicKeyFile,
        issuer: optionValue.string(options, 'issuer') ?? '',
        audience: optionValue.string(options, 'audience') ?? '',
      };
    },
  },
});

/**
 * The definition's fields as the control plane names them, and where they came from: the flags, or
 * the secret read from the prompt or stdin.
 */
const SECURITY_FLAGS: FlagNames = {
  'api_key.header': '--header',
  'api_key.key': 'the API key (read from the prompt or stdin)',
  'basic_auth.username': '--username',
  'basic_auth.password': 'the password (read from the prompt or stdin)',
  'jwt.hs256_secret': 'the HS256 secret (read from the prompt or stdin)',
  'jwt.public_key_pem': 'the --public-key file',
  'jwt.issuer': '--issuer',
  'jwt.audience': '--audience',
  wait_timeout_ms: '--wait-timeout',
};

/** The command `create-KIND` or `update-KIND`. */
export function securityPutCommand(verb: 'create' | 'update', kind: SecurityKind): CliCommand {
  const spec = KINDS[kind];
  const summary =
    verb === 'create'
      ? `Create ${spec.noun} security definition: ${spec.checks}`
      : `Replace ${spec.noun} security definition's fields (an empty ${spec.secretName} keeps the stored one)`;
  return defineCommand<SecurityPutArgs>({
    name: `${verb}-${kind}`,
    summary,
    arguments: [
      new Argument(
        'NAME',
        verb === 'create' ? 'the definition: letters, digits, ., - and _' : 'the security definition',
      ),
    ],
    options: spec.options,
    parse([name = ''], options) {
      const auth = spec.readAuth(options);
      const wait = readWaitOptions(options, 'wait-timeout');
      return {
        name,
        auth,
        secret: readSecretSource(auth, options),
        waitFor: wait.waitFor,
        waitTimeoutMs: wait.timeoutMs,
      };
    },
    async run(args, context) {
      const secret = await resolveSecret(verb, spec, args, context);
      const request: PutSecurityDefinitionRequest = {
        cluster: context.config.cluster,
        name: args.name,
        ...(await authFields(args.auth, secret.value, context)),
        waitFor: args.waitFor,
        waitTimeoutMs: args.waitTimeoutMs,
      };
      const response = await namingFlags(SECURITY_FLAGS, () =>
        verb === 'create'
          ? context.api.createSecurityDefinition(request)
          : context.api.updateSecurityDefinition(request),
      );
      // Stored: the one time the generated key is shown (first, alone on its line, for `head -n1`).
      if (secret.generated && !context.json) {
        context.out(secret.value);
        context.err(
          `the first line above is the generated API key for '${args.name}': keep it now, it is not shown again`,
        );
      }
      return reportResourceChange(
        response,
        () =>
          formatSecurityChange(`${verb}d`, args.name, response, {
            waited: args.waitFor !== WaitFor.WAIT_FOR_NONE,
          }),
        context,
        secret.generated ? { generatedKey: secret.value, ...response } : response,
      );
    },
  });
}

function readSecretSource(auth: SecurityAuthArgs, options: OptionValues): SecretSource {
  if (auth.kind === 'jwt' && auth.publicKeyFile !== '') return { from: 'none' };
  if (optionValue.flag(options, 'generate')) return { from: 'generate' };
  const value = optionValue.string(options, 'secretFromArgument');
  return value === undefined ? { from: 'input' } : { from: 'argument', value };
}

/** The secret to send ('' keeps the stored one on update), and whether it was generated here. */
async function resolveSecret(
  verb: 'create' | 'update',
  spec: KindSpec,
  args: SecurityPutArgs,
  context: CommandContext,
): Promise<{ readonly value: string; readonly generated: boolean }> {
  const { secret } = args;
  if (secret.from === 'none') return { value: '', generated: false };
  if (secret.from === 'generate') {
    return { value: randomBytes(GENERATED_KEY_BYTES).toString('base64url'), generated: true };
  }
  const value =
    secret.from === 'argument'
      ? secret.value
      : await context.readSecret(
          `${spec.secretName} for '${args.name}' (not shown${verb === 'update' ? '; empty keeps the stored one' : ''}): `,
        );
  if (value === '' && verb === 'create') throw new CliError(missingSecret(spec, args), { exitCode: 2 });
  return { value, generated: false };
}

function missingSecret(spec: KindSpec, args: SecurityPutArgs): string {
  const command = `laneway security create-${args.auth.kind} ${args.name} ${spec.exampleFlags}`;
  const generate = args.auth.kind === 'api-key' ? ', or --generate for a random key' : '';
  return (
    `no ${spec.secretName} given for '${args.name}': type it at the prompt (stdin a terminal) or give it ` +
    `as stdin's first line, e.g. printf '%s\\n' "$${spec.exampleVariable}" | ${command}${generate}`
  );
}

async function authFields(
  auth: SecurityAuthArgs,
  secret: string,
  context: CommandContext,
): Promise<Pick<PutSecurityDefinitionRequest, 'apiKey' | 'basicAuth' | 'jwt'>> {
  switch (auth.kind) {
    case 'api-key':
      return { apiKey: { header: auth.header, key: secret, keySet: false } };
    case 'basic':
      return { basicAuth: { username: auth.username, password: secret, passwordSet: false } };
    case 'jwt': {
      const publicKeyPem =
        auth.publicKeyFile === '' ? '' : await readPublicKey(auth.publicKeyFile, context.cwd);
      return {
        jwt: {
          hs256Secret: secret,
          publicKeyPem,
          issuer: auth.issuer,
          audience: auth.audience,
          secretSet: false,
        },
      };
    }
  }
}

async function readPublicKey(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --public-key '${file}': ${describeFsError(error)}`, { cause: error });
  }
}
