import { describe, expect, it } from 'vitest';
import { generateSecretKey, Keyring } from './keyring';
import { ResourceSecrets, secretContext } from './resource-secrets';
import { isSealed, sealedKeyId, SecretBox } from './secret-box';

const SECRET = 'hs256-secret-that-is-at-least-32-bytes-long';

describe('ResourceSecrets: the secret fields of specs, by kind', () => {
  const key = generateSecretKey();
  const secrets = new ResourceSecrets(new SecretBox(new Keyring(key)));
  const jwt = (hs256Secret: string) => ({ jwt: { hs256Secret, publicKeyPem: '', issuer: 'https://id', audience: 'laneway' } });

  it('seals the HS256 secret of a security definition for its own field, and leaves other fields and kinds alone', () => {
    const sealed = secrets.seal('c1', 'security', 'sso', jwt(SECRET));
    expect(isSealed(sealed.jwt.hs256Secret)).toBe(true);
    expect(sealed.jwt.issuer).toBe('https://id');
    expect(JSON.stringify(sealed)).not.toContain(SECRET);
    expect(secrets.open('c1', 'security', 'sso', sealed)).toEqual(jwt(SECRET));
    // Another resource's field: refused.
    expect(() => secrets.open('c1', 'security', 'other', sealed)).toThrow(/does not open/);
    expect(() => secrets.open('c2', 'security', 'sso', sealed)).toThrow(/does not open/);
    const channel = { method: 'GET', path: '/x', service: 's', security: SECRET };
    expect(secrets.seal('c1', 'channel', 'ch', channel)).toBe(channel);
    expect(secrets.has('channel')).toBe(false);
    // API-key hashes are not sealed (they are hashes already); an empty secret stays empty.
    expect(secrets.seal('c1', 'security', 'k', { apiKey: { header: 'x-api-key', keySha256: 'ab' } })).toEqual({ apiKey: { header: 'x-api-key', keySha256: 'ab' } });
    expect(secrets.seal('c1', 'security', 'pk', jwt('')).jwt.hs256Secret).toBe('');
  });

  it('keeps the stored sealed value when it is carried over or given again (the version stays), seals a new one', () => {
    const stored = secrets.seal('c1', 'security', 'sso', jwt(SECRET));
    expect(secrets.seal('c1', 'security', 'sso', jwt(stored.jwt.hs256Secret), stored)).toEqual(stored);
    expect(secrets.seal('c1', 'security', 'sso', jwt(SECRET), stored)).toEqual(stored);
    const changed = secrets.seal('c1', 'security', 'sso', jwt(`${SECRET}-2`), stored);
    expect(changed.jwt.hs256Secret).not.toBe(stored.jwt.hs256Secret);
    expect(secrets.open('c1', 'security', 'sso', changed).jwt.hs256Secret).toBe(`${SECRET}-2`);
    // A legacy row in the clear, carried over by securitySpecOf: sealed now.
    const legacy = secrets.seal('c1', 'security', 'sso', jwt(SECRET), jwt(SECRET));
    expect(isSealed(legacy.jwt.hs256Secret)).toBe(true);
  });

  it('seals every secret field of a connection; an empty one keeps the stored value while its object is there', () => {
    const pg = { postgres: { host: 'db', port: 5432, database: 'app', user: 'u', password: 'pg-password', passwordSet: false, url: '' } };
    const stored = secrets.seal('c1', 'connection', 'billing', pg);
    expect(isSealed(stored.postgres.password)).toBe(true);
    expect(stored.postgres.url).toBe('');
    const kept = secrets.seal('c1', 'connection', 'billing', { postgres: { ...pg.postgres, password: '', host: 'db2' } }, stored);
    expect(kept.postgres).toMatchObject({ host: 'db2', password: stored.postgres.password });
    // Another kind of connection: nothing carried over.
    const redis = secrets.seal<unknown>('c1', 'connection', 'billing', { redis: { url: 'redis://r', password: '' } }, stored);
    expect(redis).toEqual({ redis: { url: 'redis://r', password: '' } });
    for (const [spec, path] of [
      [{ rest: { baseUrl: 'https://x', basic: { username: 'a', password: 'rest-password' } } }, ['rest', 'basic', 'password']],
      [{ rest: { baseUrl: 'https://x', bearer: { token: 'bearer-token' } } }, ['rest', 'bearer', 'token']],
      [{ rest: { baseUrl: 'https://x', apiKey: { header: 'x-k', key: 'api-key-value' } } }, ['rest', 'apiKey', 'key']],
      [{ mysql: { host: 'm', password: 'mysql-password' } }, ['mysql', 'password']],
      [{ redis: { url: 'redis://r', password: 'redis-password' } }, ['redis', 'password']],
      [{ amqp: { url: 'amqp://a', password: 'amqp-password' } }, ['amqp', 'password']],
    ] as const) {
      const sealed = secrets.seal('c1', 'connection', 'n', spec);
      const value = path.reduce<unknown>((node, step) => (node as Record<string, unknown>)[step], sealed);
      expect(isSealed(value), path.join('.')).toBe(true);
      expect(secrets.open('c1', 'connection', 'n', sealed)).toEqual(spec);
    }
  });

  it('reseals with another key: values under other keys and values in the clear, counting them', () => {
    const next = generateSecretKey();
    const ring = new Keyring(key, [next]);
    const both = new ResourceSecrets(new SecretBox(ring));
    const old = secrets.seal('c1', 'security', 'sso', jwt(SECRET));
    const first = both.reseal('c1', 'security', 'sso', old, next.id);
    expect(first.count).toBe(1);
    expect(sealedKeyId(first.spec.jwt.hs256Secret)).toBe(next.id);
    expect(both.open('c1', 'security', 'sso', first.spec)).toEqual(jwt(SECRET));
    expect(both.reseal('c1', 'security', 'sso', first.spec, next.id)).toEqual({ spec: first.spec, count: 0 });
    const legacy = both.reseal('c1', 'security', 'sso', jwt(SECRET), next.id);
    expect(legacy.count).toBe(1);
    expect(sealedKeyId(legacy.spec.jwt.hs256Secret)).toBe(next.id);
    expect(secretContext('c1', 'security', 'sso', 'jwt.hs256Secret')).toBe('c1/security/sso/jwt.hs256Secret');
  });
});
