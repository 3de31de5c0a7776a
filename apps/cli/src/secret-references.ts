/**
 * The `${env:NAME}` secret references of a bundle's laneway.yaml, and their values from the CLI's
 * environment. Missing ones are not an error here: the control plane refuses an apply naming every
 * reference it was not given, so that check lives in one place.
 */

// `${env:NAME}`, NAME as an environment variable's name.
const ENV_REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The NAMEs of the `${env:NAME}` references in `text`, each once, sorted. */
export function envReferences(text: string): string[] {
  return [...new Set([...text.matchAll(ENV_REFERENCE)].map((match) => match[1]!))].sort();
}

/** The value of each `${env:NAME}` reference in `text` that `env` sets, by NAME (sent as secret_values). */
export function secretValuesFor(text: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of envReferences(text)) {
    const value = env[name];
    if (value !== undefined) values[name] = value;
  }
  return values;
}
