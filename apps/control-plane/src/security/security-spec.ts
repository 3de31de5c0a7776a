import type { ApiKeyAuth, BasicAuth, JwtAuth, SecurityDefinition, SecuritySpec } from '@laneway/proto';
import { createHash, createPublicKey, randomBytes, scryptSync } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import type { ResourceReader, ResourceRecord } from '../store';

/**
 * A security definition as stored and pushed: what servers need to check a request, and nothing
 * that would let a reader of the database call the channel: API keys as SHA-256 (they are long and
 * random), passwords as scrypt. A JWT's HS256 secret is needed to verify, so it is kept: sealed at
 * rest by the resource catalog (secrets/secret-fields.ts), in the clear only on the sync stream;
 * public keys are not secret. A `jwt.hs256Secret` read back from the store is the sealed form.
 */
export type SecuritySpecRecord = SecuritySpec;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const MIN_KEY = 16;
const MIN_PASSWORD = 8;
const MIN_HS256_SECRET = 32;
// scrypt's N: about 50 ms on this machine's cores; a server checks a password once per cache period.
const SCRYPT_COST = 16384;

export interface SecurityInput {
  name: string;
  apiKey?: ApiKeyAuth;
  basicAuth?: BasicAuth;
  jwt?: JwtAuth;
}

/**
 * Checks the request's fields and returns the spec to store. On update, a secret left empty keeps
 * the one `previous` holds (so an operator can change a header or an issuer without the secret).
 */
export function securitySpecOf(input: SecurityInput, previous?: SecuritySpecRecord): SecuritySpecRecord {
  checkSecurityName(input.name);
  const kinds = [input.apiKey, input.basicAuth, input.jwt].filter(Boolean).length;
  if (kinds !== 1) throw new InvalidArgumentError('auth', 'give exactly one of api_key, basic_auth or jwt');
  if (input.apiKey) {
    const { key } = input.apiKey;
    const header = apiKeyHeaderOf(input.apiKey.header);
    if (!key && previous?.apiKey) return { apiKey: { header, keySha256: previous.apiKey.keySha256 } };
    if (key.length < MIN_KEY) throw new InvalidArgumentError('api_key.key', `api_key.key has ${key.length} characters; use at least ${MIN_KEY} (a random key)`);
    return { apiKey: { header, keySha256: createHash('sha256').update(key).digest('hex') } };
  }
  if (input.basicAuth) {
    const { username, password } = input.basicAuth;
    checkBasicUsername(username);
    if (!password && previous?.basicAuth) return { basicAuth: { ...previous.basicAuth, username } };
    if (password.length < MIN_PASSWORD) throw new InvalidArgumentError('basic_auth.password', `basic_auth.password has ${password.length} characters; use at least ${MIN_PASSWORD}`);
    const salt = randomBytes(16).toString('hex');
    const hash = scryptSync(password, salt, 32, { N: SCRYPT_COST }).toString('hex');
    return { basicAuth: { username, salt, hash, cost: SCRYPT_COST } };
  }
  const jwt = input.jwt!;
  const secret = jwt.hs256Secret || (jwt.publicKeyPem ? '' : (previous?.jwt?.hs256Secret ?? ''));
  if (Boolean(secret) === Boolean(jwt.publicKeyPem)) {
    throw new InvalidArgumentError('jwt', 'give exactly one of jwt.hs256_secret (HS256) or jwt.public_key_pem (RS256, ES256)');
  }
  if (secret && Buffer.byteLength(secret) < MIN_HS256_SECRET) {
    throw new InvalidArgumentError('jwt.hs256_secret', `jwt.hs256_secret has ${Buffer.byteLength(secret)} bytes; use at least ${MIN_HS256_SECRET}`);
  }
  if (jwt.publicKeyPem) {
    let type: string | undefined;
    try {
      type = createPublicKey(jwt.publicKeyPem).asymmetricKeyType;
    } catch {
      throw new InvalidArgumentError('jwt.public_key_pem', 'jwt.public_key_pem is not a PEM public key (-----BEGIN PUBLIC KEY-----)');
    }
    if (type !== 'rsa' && type !== 'ec') throw new InvalidArgumentError('jwt.public_key_pem', `jwt.public_key_pem is a ${type} key; use an RSA (RS256) or EC P-256 (ES256) key`);
  }
  return { jwt: { hs256Secret: secret, publicKeyPem: jwt.publicKeyPem, issuer: jwt.issuer, audience: jwt.audience } };
}

export function checkSecurityName(name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidArgumentError('name', `security definition name '${name}' is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit`);
  }
}

/** The header an API key travels in, as stored (lower case); refuses what is not a header name. */
export function apiKeyHeaderOf(header: string): string {
  if (!HEADER.test(header)) throw new InvalidArgumentError('api_key.header', `api_key.header '${header}' is not an HTTP header name (e.g. x-api-key)`);
  return header.toLowerCase();
}

export function checkBasicUsername(username: string): void {
  if (!username || username.includes(':')) throw new InvalidArgumentError('basic_auth.username', `basic_auth.username '${username}' must be non-empty and hold no ':'`);
}

/** A definition as answers show it: secrets never, only whether they are set. */
export function securityDefinitionOf(record: ResourceRecord<SecuritySpecRecord>): SecurityDefinition {
  const { spec } = record;
  const base = { name: record.name, revision: record.revision, updatedAt: record.updatedAt };
  if (spec.apiKey) return { ...base, apiKey: { header: spec.apiKey.header, key: '', keySet: Boolean(spec.apiKey.keySha256) } };
  if (spec.basicAuth) return { ...base, basicAuth: { username: spec.basicAuth.username, password: '', passwordSet: Boolean(spec.basicAuth.hash) } };
  const jwt = spec.jwt!;
  return { ...base, jwt: { hs256Secret: '', publicKeyPem: jwt.publicKeyPem, issuer: jwt.issuer, audience: jwt.audience, secretSet: Boolean(jwt.hs256Secret) } };
}

/** Refuses to delete a definition while a channel names it. */
export async function checkSecurityUnused(name: string, cluster: string, reader: ResourceReader): Promise<void> {
  const users = (await reader.listResources<{ security: string }>('channel')).filter((c) => c.spec.security === name).map((c) => c.name);
  if (users.length) {
    throw new FailedPreconditionError(
      `security definition '${name}' is used by channel(s) ${users.map((u) => `'${u}'`).join(', ')} in cluster '${cluster}': change or delete them first`,
      { security: name, channels: users },
    );
  }
}
