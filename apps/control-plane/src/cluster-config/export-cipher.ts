import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ENCRYPTED = /^\$\{enc:v1\.([A-Za-z0-9_-]+)\}$/;

/** Whether a laneway.yaml value is a secret an export encrypted. */
export function isEncryptedValue(value: string): boolean {
  return ENCRYPTED.test(value);
}

/**
 * Secrets of an export made `--with-secrets`: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * key file's bytes, written `${enc:v1.<iv|ciphertext|tag, base64url>}`. The value's place in the file
 * (`kind/name/field`) is authenticated with it, so a ciphertext opens only where it was written, in
 * any cluster.
 */
export class ExportCipher {
  private readonly key: Buffer;

  constructor(keyMaterial: Uint8Array) {
    if (keyMaterial.length < 16) {
      throw new InvalidArgumentError('secrets_key', `secrets_key has ${keyMaterial.length} bytes; use a key file of at least 16 random bytes`);
    }
    this.key = Buffer.from(hkdfSync('sha256', keyMaterial, 'laneway-config-export', 'v1', 32));
  }

  encrypt(plain: string, place: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(place));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `\${enc:v1.${Buffer.concat([iv, data, cipher.getAuthTag()]).toString('base64url')}}`;
  }

  /** The plaintext, or INVALID_ARGUMENT naming `field` when the key is another or the value was altered or moved. */
  decrypt(value: string, place: string, field: string): string {
    const raw = Buffer.from(ENCRYPTED.exec(value)?.[1] ?? '', 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new InvalidArgumentError(field, `${field} is not a whole encrypted value`);
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(place));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new InvalidArgumentError(field, `${field} does not decrypt with the given key file: give the key file it was exported with (--key-file)`);
    }
  }
}
