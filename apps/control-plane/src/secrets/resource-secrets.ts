import type { ResourceRecord } from '../store';
import { isSealed, sealedKeyId, type SecretBox } from './secret-box';
import { parentExists, SECRET_FIELDS, setStringAt, stringAt } from './secret-fields';

/** The context a field's value is sealed for: it opens in that field of that resource only. */
export function secretContext(cluster: string, kind: string, name: string, path: string): string {
  return `${cluster}/${kind}/${name}/${path}`;
}

/**
 * Seals and opens the secret fields of resource specs (SECRET_FIELDS): sealed before a spec is
 * stored, kept sealed in what the API reads back, opened only for the wire Resource a server gets.
 */
export class ResourceSecrets {
  constructor(readonly box: SecretBox) {}

  /** Whether specs of `kind` have fields to seal. */
  has(kind: string): boolean {
    return (SECRET_FIELDS[kind]?.paths.length ?? 0) > 0;
  }

  /**
   * The spec to store: a copy with every secret field sealed. `stored` is the spec stored now (on an
   * update): a field that holds its sealed value, or the same plaintext again, keeps the stored
   * sealed value (so an unchanged spec keeps its version), and where the kind says so an empty field
   * keeps it too.
   */
  seal<Spec>(cluster: string, kind: string, name: string, spec: Spec, stored?: Spec): Spec {
    const fields = SECRET_FIELDS[kind];
    if (!fields) return spec;
    const out = structuredClone(spec);
    for (const path of fields.paths) {
      const value = stringAt(out, path);
      if (value === undefined) continue;
      const context = secretContext(cluster, kind, name, path);
      const previous = stored === undefined ? undefined : stringAt(stored, path);
      if (value === '') {
        if (fields.emptyKeepsStored && previous && parentExists(out, path)) {
          setStringAt(out, path, isSealed(previous) ? previous : this.box.seal(previous, context));
        }
        continue;
      }
      if (previous && isSealed(previous) && (value === previous || this.sameSecret(previous, value, context))) {
        setStringAt(out, path, previous);
        continue;
      }
      setStringAt(out, path, this.box.seal(value, context));
    }
    return out;
  }

  /** A copy of the spec with its secret fields in the clear (for the servers, in memory only). */
  open<Spec>(cluster: string, kind: string, name: string, spec: Spec): Spec {
    const fields = SECRET_FIELDS[kind];
    if (!fields) return spec;
    const out = structuredClone(spec);
    for (const path of fields.paths) {
      const value = stringAt(out, path);
      if (value) setStringAt(out, path, this.box.open(value, secretContext(cluster, kind, name, path)));
    }
    return out;
  }

  openRecord<Spec>(cluster: string, record: ResourceRecord<Spec>): ResourceRecord<Spec> {
    if (!this.has(record.kind)) return record;
    return { ...record, spec: this.open(cluster, record.kind, record.name, record.spec) };
  }

  /**
   * The spec with every secret field sealed with key `keyId`: values sealed with another key are
   * opened and sealed again, values still in the clear (rows older than encryption) are sealed.
   * `count` is how many fields changed (0: the spec is returned as it was).
   */
  reseal<Spec>(cluster: string, kind: string, name: string, spec: Spec, keyId: string): { spec: Spec; count: number } {
    const fields = SECRET_FIELDS[kind];
    if (!fields) return { spec, count: 0 };
    const out = structuredClone(spec);
    let count = 0;
    for (const path of fields.paths) {
      const value = stringAt(out, path);
      if (!value || sealedKeyId(value) === keyId) continue;
      const context = secretContext(cluster, kind, name, path);
      setStringAt(out, path, this.box.seal(this.box.open(value, context), context, keyId));
      count++;
    }
    return { spec: count ? out : spec, count };
  }

  private sameSecret(sealed: string, plain: string, context: string): boolean {
    try {
      return this.box.open(sealed, context) === plain;
    } catch {
      // The stored value does not open (its key is gone): the new value replaces it.
      return false;
    }
  }
}
