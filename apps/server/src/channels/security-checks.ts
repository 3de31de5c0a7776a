import type { SecuritySpec } from '@laneway/proto';
import { createHash, createPublicKey, scrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import type { ResourceSet } from '../resources/resource-set';
import type { ChannelRoute } from './channel-route';

const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: { N: number; maxmem: number }) => Promise<Buffer>;

/** The outcome of a check: the caller's identity (for rate limits), or why it was refused. */
export type SecurityOutcome =
  | { ok: true; caller: string }
  | { ok: false; status: 401; message: string; headers?: Record<string, string> };

// A verified password is remembered this long, so a slow hash is paid once per caller and period.
const VERIFIED_TTL_MS = 5 * 60_000;
const MAX_VERIFIED = 10_000;
// Verified API keys remembered per definition version (a hash of each request's key shows in a profile).
const MAX_VERIFIED_KEYS = 10_000;

/** The API keys verified for one version of a definition. */
interface VerifiedKeys {
  version: string;
  expected: Buffer;
  /** Presented key -> the caller it names. */
  keys: Map<string, string>;
}

/**
 * Checks requests against the cluster's security definitions (the `security` resources this server
 * holds): API keys by SHA-256, basic auth by scrypt (verified pairs cached), bearer JWTs with jose
 * (signature, expiry, issuer, audience). Comparisons are constant-time. A request that fails never
 * reaches the service.
 */
export class SecurityChecks {
  private readonly verified = new Map<string, number>();
  private readonly keys = new Map<string, Promise<KeyObject | Uint8Array>>();
  private readonly apiKeys = new Map<string, VerifiedKeys>();

  constructor(private readonly resources: ResourceSet) {}

  /** Synchronous for API keys (the hot path: no promise, no extra turn); a promise for basic auth and JWTs. */
  check(route: ChannelRoute, headers: Readonly<Record<string, string>>): SecurityOutcome | Promise<SecurityOutcome> {
    const definition = this.resources.get<SecuritySpec>('security', route.security);
    if (!definition) {
      return { ok: false, status: 401, message: `channel '${route.name}' requires security definition '${route.security}', which this server does not hold` };
    }
    const { spec } = definition;
    if (spec.apiKey) {
      const presented = headers[spec.apiKey.header];
      if (!presented) return refused(`missing header ${spec.apiKey.header}`);
      return this.checkApiKey(definition.name, definition.version, spec.apiKey.keySha256, spec.apiKey.header, presented);
    }
    return this.checkSlow(route, definition.name, definition.version, spec, headers);
  }

  /**
   * SHA-256 of the presented key, compared in constant time with the stored digest. A key that
   * passed is remembered for this version of the definition, so a repeat costs one hash-table
   * lookup instead of a hash: the lookup hashes the whole presented string (its time does not
   * depend on how much of it matches), and only keys that already passed are in the table. Refused
   * keys are not remembered, so guessing pays the full check every time.
   */
  private checkApiKey(name: string, version: string, keySha256: string, header: string, presented: string): SecurityOutcome {
    let verified = this.apiKeys.get(name);
    if (!verified || verified.version !== version) {
      verified = { version, expected: Buffer.from(keySha256, 'hex'), keys: new Map() };
      this.apiKeys.set(name, verified);
    }
    const known = verified.keys.get(presented);
    if (known !== undefined) return { ok: true, caller: known };
    const digest = createHash('sha256').update(presented).digest();
    if (!sameBytes(digest, verified.expected)) return refused(`the key in header ${header} is not valid`);
    const caller = `key:${digest.toString('hex').slice(0, 16)}`;
    if (verified.keys.size >= MAX_VERIFIED_KEYS) verified.keys.delete(verified.keys.keys().next().value!);
    verified.keys.set(presented, caller);
    return { ok: true, caller };
  }

  private async checkSlow(
    route: ChannelRoute,
    name: string,
    version: string,
    spec: SecuritySpec,
    headers: Readonly<Record<string, string>>,
  ): Promise<SecurityOutcome> {
    if (spec.basicAuth) {
      const challenge = { 'www-authenticate': `Basic realm="${route.name}", charset="UTF-8"` };
      const pair = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(headers['authorization'] ?? '');
      if (!pair) return { ...refused('missing basic credentials (Authorization: Basic …)'), headers: challenge };
      const decoded = Buffer.from(pair[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      const { basicAuth } = spec;
      const key = createHash('sha256').update(`${name}\u0000${version}\u0000${decoded}`).digest('base64');
      if (!this.isVerified(key)) {
        const hash = await scryptAsync(password, basicAuth.salt, 32, { N: basicAuth.cost, maxmem: 128 * basicAuth.cost * 8 * 2 });
        const userOk = sameBytes(Buffer.from(username), Buffer.from(basicAuth.username));
        if (!sameBytes(hash, Buffer.from(basicAuth.hash, 'hex')) || !userOk) return { ...refused('the username or password is not valid'), headers: challenge };
        this.remember(key);
      }
      return { ok: true, caller: `user:${username}` };
    }
    if (spec.jwt) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(headers['authorization'] ?? '');
      if (!bearer) return { ...refused('missing bearer token (Authorization: Bearer …)'), headers: { 'www-authenticate': 'Bearer' } };
      const { jwt } = spec;
      try {
        const key = await this.keyOf(`${name}\u0000${version}`, jwt.hs256Secret, jwt.publicKeyPem);
        const { payload } = await jwtVerify(bearer[1]!, key, {
          algorithms: jwt.hs256Secret ? ['HS256'] : ['RS256', 'ES256'],
          ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
          ...(jwt.audience ? { audience: jwt.audience } : {}),
        });
        return { ok: true, caller: `sub:${String(payload.sub ?? '')}` };
      } catch (err) {
        return { ...refused(`the bearer token is not valid: ${(err as Error).message}`), headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
      }
    }
    return refused(`security definition '${route.security}' has no check this server knows`);
  }

  private keyOf(id: string, secret: string, pem: string): Promise<KeyObject | Uint8Array> {
    let key = this.keys.get(id);
    if (!key) {
      key = Promise.resolve(secret ? new TextEncoder().encode(secret) : createPublicKey(pem));
      this.keys.set(id, key);
      if (this.keys.size > 1000) this.keys.delete(this.keys.keys().next().value!);
    }
    return key;
  }

  private isVerified(key: string): boolean {
    const at = this.verified.get(key);
    return at !== undefined && Date.now() - at < VERIFIED_TTL_MS;
  }

  private remember(key: string): void {
    this.verified.delete(key);
    this.verified.set(key, Date.now());
    while (this.verified.size > MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
  }
}

function refused(message: string): { ok: false; status: 401; message: string } {
  return { ok: false, status: 401, message };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
