import { InvalidArgumentError } from '../errors';
import type { ExportCipher } from './export-cipher';
import { isEncryptedValue } from './export-cipher';

/** One secret field of one resource, as an export finds it. */
export interface SecretPlace {
  kind: string;
  name: string;
  /** The field's path in the spec, e.g. `postgres.password`. */
  path: string;
}

const REFERENCE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function referenceOf(variable: string): string {
  return `\${env:${variable}}`;
}

/** Where a value sits, for the AES-GCM associated data of an encrypted export. */
export function placeOf(place: SecretPlace): string {
  return `${place.kind}/${place.name}/${place.path}`;
}

function snake(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

/**
 * Environment variable names for the secret fields of an export: the resource's name and the field,
 * e.g. BILLING_PASSWORD (connection billing, postgres.password), CRM_API_KEY (rest.apiKey.key),
 * SSO_HS256_SECRET (jwt.hs256Secret). Names two places would share get the kind in front
 * (CONNECTION_X_PASSWORD); `places` in a fixed order gives the same names every time.
 */
export function referenceNames(places: readonly SecretPlace[]): string[] {
  const base = places.map((p) => {
    const steps = p.path.split('.');
    const last = steps[steps.length - 1]!;
    const field = last === 'key' && steps.length > 1 ? steps[steps.length - 2]! : last;
    const name = `${snake(p.name)}_${snake(field)}`;
    return /^[0-9]/.test(name) ? `_${name}` : name;
  });
  const count = (names: string[]) => names.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
  const firstCounts = count(base);
  const withKind = base.map((n, i) => (firstCounts.get(n)! > 1 ? `${snake(places[i]!.kind)}_${n}` : n));
  const seen = new Map<string, number>();
  return withKind.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n}_${k}`;
  });
}

/** A `${env:NAME}` the bundle holds and apply was not given, and where. */
export interface MissingReference {
  variable: string;
  where: string;
}

/**
 * Replaces, in a parsed resource, every string that is a whole `${env:NAME}` with the value given
 * for NAME and every `${enc:...}` with its plaintext (needs `cipher`). References without a value are
 * collected in `missing` (and left as they are), so one answer can name all of them.
 */
export function resolveSecrets(
  value: unknown,
  where: string,
  place: SecretPlace,
  values: Readonly<Record<string, string>>,
  cipher: ExportCipher | undefined,
  missing: MissingReference[],
): unknown {
  if (typeof value === 'string') {
    const reference = REFERENCE.exec(value);
    if (reference) {
      const given = values[reference[1]!];
      if (given === undefined) missing.push({ variable: reference[1]!, where });
      return given ?? '';
    }
    if (isEncryptedValue(value)) {
      if (!cipher) throw new InvalidArgumentError(where, `${where} is encrypted: give the key file it was exported with (--key-file)`);
      return cipher.decrypt(value, placeOf(place), where);
    }
    return value;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = resolveSecrets(v, `${where}.${key}`, { ...place, path: place.path ? `${place.path}.${key}` : key }, values, cipher, missing);
    }
    return out;
  }
  return value;
}
