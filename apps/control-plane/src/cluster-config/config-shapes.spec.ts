import { describe, expect, it } from 'vitest';
import { compactShape, readShape, SHAPES } from './config-shapes';
import { referenceNames, resolveSecrets, type MissingReference } from './secret-references';
import { ExportCipher } from './export-cipher';
import { parseConfigDocument } from './config-document';

describe('laneway.yaml shapes', () => {
  it('fills defaults, keeps alternatives absent unless given, and refuses unknown fields and wrong types by path', () => {
    expect(readShape({ method: 'GET', path: '/a', service: 's' }, SHAPES.channel, 'channels.a')).toEqual({
      method: 'GET',
      path: '/a',
      service: 's',
      security: '',
      timeoutMs: 0,
      async: false,
      rateLimitPerSecond: 0,
    });
    expect(readShape({ rest: { baseUrl: 'http://x', headers: { a: 'b' } } }, SHAPES.connection, 'connections.c')).toEqual({
      rest: { baseUrl: 'http://x', headers: { a: 'b' }, timeoutMs: 0, retries: 0, caPem: '' },
    });
    expect(() => readShape({ methd: 'GET' }, SHAPES.channel, 'channels.a')).toThrow(/channels\.a\.methd is not a field here; the fields are method, path/);
    expect(() => readShape({ timeoutMs: '5s' }, SHAPES.channel, 'channels.a')).toThrow('channels.a.timeoutMs must be a number, not a string ("5s")');
    expect(() => readShape({ rest: { headers: { a: 1 } } }, SHAPES.connection, 'connections.c')).toThrow('connections.c.rest.headers must be a mapping of names to strings');
    expect(() => readShape(['x'], SHAPES.channel, 'channels.a')).toThrow('channels.a must be a mapping of fields, not a list');
  });

  it('writes only what differs from the defaults, in the shape order, without answer-only flags', () => {
    const stored = { redis: { passwordSet: false, keyPrefix: '', url: 'redis://h', password: 'x', caPem: '' } };
    expect(JSON.stringify(compactShape(stored, SHAPES.connection))).toBe('{"redis":{"url":"redis://h","password":"x"}}');
  });
});

describe('secret references', () => {
  it('names each secret after its resource and field, adding the kind only where two would clash', () => {
    expect(
      referenceNames([
        { kind: 'connection', name: 'billing', path: 'postgres.password' },
        { kind: 'connection', name: 'crm', path: 'rest.apiKey.key' },
        { kind: 'security', name: 'sso', path: 'jwt.hs256Secret' },
        { kind: 'connection', name: 'a-b', path: 'redis.password' },
        { kind: 'security', name: 'a_b', path: 'x.password' },
        { kind: 'connection', name: '9lives', path: 'amqp.password' },
      ]),
    ).toEqual(['BILLING_PASSWORD', 'CRM_API_KEY', 'SSO_HS256_SECRET', 'CONNECTION_A_B_PASSWORD', 'SECURITY_A_B_PASSWORD', '_9LIVES_PASSWORD']);
  });

  it('resolves whole ${env:NAME} values and collects every missing one', () => {
    const missing: MissingReference[] = [];
    const out = resolveSecrets(
      { postgres: { host: '${env:HOST}', password: '${env:PW}', user: 'literal ${env:PW}' } },
      'connections.db',
      { kind: 'connection', name: 'db', path: '' },
      { HOST: 'db.local' },
      undefined,
      missing,
    );
    expect(out).toEqual({ postgres: { host: 'db.local', password: '', user: 'literal ${env:PW}' } });
    expect(missing).toEqual([{ variable: 'PW', where: 'connections.db.postgres.password' }]);
  });

  it('opens an encrypted value only with its key and only in its place', () => {
    const cipher = new ExportCipher(Buffer.from('a key file of enough bytes'));
    const value = cipher.encrypt('s3cret', 'connection/db/postgres.password');
    expect(cipher.decrypt(value, 'connection/db/postgres.password', 'f')).toBe('s3cret');
    expect(() => cipher.decrypt(value, 'connection/other/postgres.password', 'f')).toThrow('f does not decrypt');
    expect(() => new ExportCipher(Buffer.from('another key file, as long')).decrypt(value, 'connection/db/postgres.password', 'f')).toThrow('f does not decrypt');
    expect(() => new ExportCipher(Buffer.from('short'))).toThrow('at least 16 random bytes');
  });
});

describe('laneway.yaml documents', () => {
  it('names the line and column of a syntax error, and an unknown top-level key', () => {
    expect(() => parseConfigDocument('channels:\n  a: {method: GET\n')).toThrow(/^laneway\.yaml:\d+:\d+: /);
    expect(() => parseConfigDocument('channel:\n  a: {}\n')).toThrow("laneway.yaml: 'channel' is not a top-level key");
    expect(() => parseConfigDocument('version: 2\n')).toThrow('version 2 is not one this control plane reads');
    expect(() => parseConfigDocument('channels:\n  a: {}\n  a: {}\n')).toThrow(/laneway\.yaml:3:\d+: Map keys must be unique/);
    expect(parseConfigDocument('').resources.channel.size).toBe(0);
  });
});
