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

/**
 * Checks requests against the cluster's security definitions (the `security` resources this server
 * holds): API keys by SHA-256, basic auth by scrypt (verified pairs cached), bearer JWTs with jose
 * (signature, expiry, issuer, audience). Comparisons are constant-time. A request that fails never
 * reaches the service.
 */
export class SecurityChecks {
  private readonly verified = new Map<string, number>();
  private readonly keys = new Map<string, Promise<KeyObject | Uint8Array>>();

  constructor(private readonly resources: ResourceSet) {}

  async check(route: ChannelRoute, headers: Readonly<Record<string, string>>): Promise<SecurityOutcome> {
    const definition = this.resources.ofKind<SecuritySpec>('security').find((d) => d.name === route.security);
    if (!definition) {
      return { ok: false, status: 401, message: `channel '${route.name}' requires security definition '${route.security}', which this server does not hold` };
    }
    const { spec, version } = definition;
    if (spec.apiKey) {
      const presented = headers[spec.apiKey.header];
      if (!presented) return refused(`missing header ${spec.apiKey.header}`);
      const digest = createHash('sha256').update(presented).digest();
      if (!sameBytes(digest, Buffer.from(spec.apiKey.keySha256, 'hex'))) return refused(`the key in header ${spec.apiKey.header} is not valid`);
      return { ok: true, caller: `key:${digest.toString('hex').slice(0, 16)}` };
    }
    if (spec.basicAuth) {
      const challenge = { 'www-authenticate': `Basic realm="${route.name}", charset="UTF-8"` };
      const pair = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(headers['authorization'] ?? '');
      if (!pair) return { ...refused('missing basic credentials (Authorization: Basic …)'), headers: challenge };
      const decoded = Buffer.from(pair[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      const { basicAuth } = spec;
      const key = createHash('sha256').update(`${definition.name}\u0000${version}\u0000${decoded}`).digest('base64');
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
        const key = await this.keyOf(`${definition.name}\u0000${version}`, jwt.hs256Secret, jwt.publicKeyPem);
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
