/** The secret fields of one kind of resource, as paths into its spec's JSON (camelCase, like the generated proto types). */
export interface SecretFields {
  readonly paths: readonly string[];
  /**
   * An update whose field is '' keeps the stored value (when the object holding the field is still
   * there). False where the kind's own spec function decides that already: for a security definition,
   * '' is what a JWT with a public key holds, and securitySpecOf carries the stored secret over itself.
   */
  readonly emptyKeepsStored: boolean;
}

/**
 * Which fields are sealed at rest, by kind (kinds not named here have none). API keys and basic-auth
 * passwords of security definitions are stored as hashes already and need no sealing.
 */
export const SECRET_FIELDS: Readonly<Record<string, SecretFields>> = Object.freeze({
  security: { paths: ['jwt.hs256Secret'], emptyKeepsStored: false },
  connection: {
    paths: [
      'postgres.password',
      // Write-only: parsed into the fields when stored, so normally empty; sealed should one stay.
      'postgres.url',
      'mysql.password',
      'mysql.url',
      'rest.basic.password',
      'rest.bearer.token',
      'rest.apiKey.key',
      'redis.password',
      'amqp.password',
    ],
    emptyKeepsStored: true,
  },
});

/** The string at `path` in `spec`; undefined when a step is missing or the value is not a string. */
export function stringAt(spec: unknown, path: string): string | undefined {
  let node: unknown = spec;
  for (const step of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return typeof node === 'string' ? node : undefined;
}

/** Sets the string at `path` in `spec` (a copy the caller owns); its parent must exist. */
export function setStringAt(spec: unknown, path: string, value: string): void {
  const steps = path.split('.');
  const last = steps.pop()!;
  let node = spec as Record<string, unknown>;
  for (const step of steps) node = node[step] as Record<string, unknown>;
  node[last] = value;
}

/** Whether the object that would hold `path` exists in `spec` (e.g. `rest.basic` for `rest.basic.password`). */
export function parentExists(spec: unknown, path: string): boolean {
  let node: unknown = spec;
  for (const step of path.split('.').slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<string, unknown>)[step];
  }
  return node !== null && typeof node === 'object';
}
