import { describe, expect, it } from 'vitest';
import { hashPassword, newUserToken, tokenSha256, USER_TOKEN_PREFIX, verifyPassword } from './passwords';

describe('passwords', () => {
  it('hashes with scrypt, a random salt and the cost recorded, and verifies', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct');
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterz', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'plain')).toBe(false);
  });

  it('verifies a hash made with another recorded cost', async () => {
    const stored = await hashPassword('pw-123456');
    const [, , , , salt] = stored.split('$');
    const { scryptSync } = await import('node:crypto');
    const cheaper = `scrypt$1024$8$1$${salt}$${scryptSync('pw-123456', Buffer.from(salt!, 'base64url'), 32, { N: 1024, r: 8, p: 1 }).toString('base64url')}`;
    expect(await verifyPassword('pw-123456', cheaper)).toBe(true);
  });

  it('makes user tokens with their prefix, looked up by SHA-256', () => {
    const token = newUserToken();
    expect(token.startsWith(USER_TOKEN_PREFIX)).toBe(true);
    expect(token).not.toBe(newUserToken());
    expect(tokenSha256(token)).toMatch(/^[0-9a-f]{64}$/);
  });
});
