import { describe, expect, it } from 'vitest';
import { securitySpecOf } from '../security/security-spec';
import { specFromConfig } from './resource-import';

describe('security definitions from laneway.yaml', () => {
  const stored = securitySpecOf({ name: 'ops', basicAuth: { username: 'ada', password: 'lovelace-1815', passwordSet: false } });
  const basic = (username: string, password: string) => ({ basicAuth: { username, password, salt: '', hash: '', cost: 0 } });

  it('keeps the stored hash for the same password, and checks the username on that path too', () => {
    expect(specFromConfig('security', 'ops', basic('grace', 'lovelace-1815'), stored)).toEqual({ basicAuth: { ...stored.basicAuth, username: 'grace' } });
    expect(() => specFromConfig('security', 'ops', basic('a:b', 'lovelace-1815'), stored)).toThrow("basic_auth.username 'a:b' must be non-empty and hold no ':'");
  });

  it('takes exported hashes as they are, with the header and username checked like the RPCs do', () => {
    const keySha256 = 'ab'.repeat(32);
    expect(specFromConfig('security', 'partner', { apiKey: { header: 'X-Api-Key', key: '', keySha256 } }, undefined)).toEqual({ apiKey: { header: 'x-api-key', keySha256 } });
    expect(() => specFromConfig('security', 'partner', { apiKey: { header: 'bad header', key: '', keySha256 } }, undefined)).toThrow("api_key.header 'bad header' is not an HTTP header name");
    expect(() => specFromConfig('security', 'bad name!', { apiKey: { header: 'x', key: '', keySha256 } }, undefined)).toThrow("security definition name 'bad name!' is invalid");
  });
});
