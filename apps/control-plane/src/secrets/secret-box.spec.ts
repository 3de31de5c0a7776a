import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecretKey, Keyring } from './keyring';
import { isSealed, NoSecretKeyError, SecretBox, SecretIntegrityError, sealedKeyId, UnknownSecretKeyError } from './secret-box';

const CONTEXT = 'default/security/sso/jwt.hs256Secret';

describe('SecretBox: AES-256-GCM with the context as additional data', () => {
  const key = generateSecretKey();
  const box = new SecretBox(new Keyring(key));

  it('round-trips, names its format and key id, and never holds the plaintext', () => {
    const plain = `s3cret-${randomBytes(8).toString('hex')}-ünïcode`;
    const sealed = box.seal(plain, CONTEXT);
    expect(sealed.startsWith(`lwsec:v1:${key.id}:`)).toBe(true);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe(key.id);
    expect(sealed).not.toContain(plain);
    expect(sealed).not.toContain(Buffer.from(plain).toString('base64'));
    expect(box.open(sealed, CONTEXT)).toBe(plain);
    // A random IV each time: the same plaintext seals differently.
    expect(box.seal(plain, CONTEXT)).not.toBe(sealed);
    expect(box.open(box.seal('', CONTEXT), CONTEXT)).toBe('');
  });

  it('refuses a tampered value, without echoing any part of it', () => {
    const sealed = box.seal('a secret that matters', CONTEXT);
    const parts = sealed.split(':');
    const data = Buffer.from(parts[4]!, 'base64url');
    data[0] = data[0]! ^ 1;
    const tampered = [...parts.slice(0, 4), data.toString('base64url'), parts[5]].join(':');
    expect(isSealed(tampered)).toBe(true);
    let error: unknown;
    try {
      box.open(tampered, CONTEXT);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SecretIntegrityError);
    expect((error as Error).message).toContain(CONTEXT);
    expect((error as Error).message).not.toContain(parts[4]);
    // A cut tag or a truncated value is refused too.
    expect(() => box.open(sealed.slice(0, -2), CONTEXT)).toThrow(SecretIntegrityError);
  });

  it('refuses a value moved to another field (another context)', () => {
    const sealed = box.seal('a secret that matters', CONTEXT);
    expect(() => box.open(sealed, 'default/security/other/jwt.hs256Secret')).toThrow(/does not open: it was altered, or sealed for another field/);
  });

  it('names an unknown key id (never the ciphertext) and opens with the key once it is given', () => {
    const other = generateSecretKey();
    const sealed = new SecretBox(new Keyring(other)).seal('sealed elsewhere', CONTEXT);
    let error: unknown;
    try {
      box.open(sealed, CONTEXT);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnknownSecretKeyError);
    expect((error as Error).message).toContain(`'${other.id}'`);
    expect((error as Error).message).toContain('LANEWAY_SECRET_KEY_PREVIOUS');
    expect((error as Error).message).not.toContain(sealed.split(':')[4]);
    expect(new SecretBox(new Keyring(key, [other])).open(sealed, CONTEXT)).toBe('sealed elsewhere');
  });

  it('passes values that are not sealed (rows older than encryption) through, and refuses a broken sealed form', () => {
    expect(box.open('legacy-plaintext-secret-of-32-bytes!', CONTEXT)).toBe('legacy-plaintext-secret-of-32-bytes!');
    expect(isSealed('legacy')).toBe(false);
    expect(() => box.open('lwsec:v1:nonsense', CONTEXT)).toThrow(SecretIntegrityError);
  });

  it('seals with a named key of the ring, and refuses to seal without any key', () => {
    const next = generateSecretKey();
    const ring = new SecretBox(new Keyring(key, [next]));
    expect(sealedKeyId(ring.seal('x', CONTEXT, next.id))).toBe(next.id);
    expect(() => new SecretBox(new Keyring()).seal('x', CONTEXT)).toThrow(NoSecretKeyError);
  });
});
