import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FailedPreconditionError } from '../errors';
import type { Keyring } from './keyring';

const VERSION = 'v1';
const PREFIX = `lwsec:${VERSION}:`;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** lwsec:v1:KEY_ID:IV:CIPHERTEXT:TAG, the binary parts in base64url (IV 12 bytes, tag 16). */
const SEALED = /^lwsec:v1:([a-z0-9]{1,64}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]*):([A-Za-z0-9_-]{22})$/;

/** Whether `value` is a string in the sealed format (it names its format version and key id). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && SEALED.test(value);
}

/** The id of the key that sealed `value`; undefined for a value that is not sealed. */
export function sealedKeyId(value: string): string | undefined {
  return SEALED.exec(value)?.[1];
}

/** A sealed value names a key id this control plane does not hold. The message names the key id only. */
export class UnknownSecretKeyError extends FailedPreconditionError {
  constructor(
    readonly keyId: string,
    readonly context: string,
  ) {
    super(
      `a secret (${context}) is sealed with key '${keyId}', which this control plane does not hold: give that key in LANEWAY_SECRET_KEY_PREVIOUS (or keep it in the keyring file), then run 'laneway secrets rotate-key'`,
      { keyId, context },
    );
  }
}

/** No key is loaded (a SecretBox made without a keyring): nothing can be sealed. */
export class NoSecretKeyError extends FailedPreconditionError {
  constructor(context: string) {
    super(`cannot seal a secret (${context}): this control plane has no secret key loaded (LANEWAY_SECRET_KEY or the keyring file in its data directory)`, {
      context,
    });
  }
}

/**
 * A sealed value that does not open: altered, truncated, or moved from another field (its context
 * differs). Not a LanewayError, so the API answers INTERNAL; the message holds no part of the value.
 */
export class SecretIntegrityError extends Error {
  constructor(
    readonly context: string,
    reason: string,
  ) {
    super(`the sealed secret of ${context} does not open: ${reason}`);
    this.name = 'SecretIntegrityError';
  }
}

/**
 * AES-256-GCM for secrets at rest. Each sealed value carries its format version, the id of the key
 * that sealed it and a random 12-byte IV; the context (`cluster/kind/name/field`) is authenticated
 * with it, so a ciphertext opens only in the field it was sealed for.
 */
export class SecretBox {
  constructor(private readonly keyring: Keyring) {}

  /** The id of the key new values are sealed with (undefined: none loaded). */
  get keyId(): string | undefined {
    return this.keyring.current?.id;
  }

  /** Seals `plain` for `context` with the current key (or the keyring's key `keyId`). */
  seal(plain: string, context: string, keyId?: string): string {
    const id = keyId ?? this.keyring.current?.id;
    if (id === undefined) throw new NoSecretKeyError(context);
    const key = this.keyring.key(id);
    if (!key) throw new UnknownSecretKeyError(id, context);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(id, context));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${id}:${iv.toString('base64url')}:${data.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
  }

  /**
   * The plaintext of a value `seal` made for the same context. A value that is not sealed (a row
   * written before secrets were encrypted) is returned as it is.
   */
  open(sealed: string, context: string): string {
    if (!sealed.startsWith('lwsec:')) return sealed;
    const parts = SEALED.exec(sealed);
    if (!parts) throw new SecretIntegrityError(context, `it is not in the ${PREFIX}KEY:IV:DATA:TAG format`);
    const [, id, iv, data, tag] = parts as unknown as [string, string, string, string, string];
    const key = this.keyring.key(id);
    if (!key) throw new UnknownSecretKeyError(id, context);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(id, context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretIntegrityError(context, 'it was altered, or sealed for another field');
    }
  }
}

function additionalData(keyId: string, context: string): Buffer {
  return Buffer.from(`${PREFIX}${keyId}\0${context}`, 'utf8');
}
