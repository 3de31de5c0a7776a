/**
 * The control plane names the request field it refuses (`interval_ms 500 is below 1000`), but the
 * user typed a flag (`--every`). A command that built its request from flags runs the call through
 * {@link namingFlags} with a table of its fields: an INVALID_ARGUMENT (or RESOURCE_EXHAUSTED) then
 * names the flags instead. One table per command, beside the command.
 */
import { CliError } from './errors';

/**
 * Wire field (snake_case, dotted as the control plane writes it: `interval_ms`, `spec.rest.base_url`)
 * -> what the user typed or gave (`--every`, `the API key (read from stdin)`). Its camelCase spelling
 * (`intervalMs`) is matched too.
 */
export type FlagNames = Readonly<Record<string, string>>;

const TRANSLATED = new Set(['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED']);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function camel(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * `text` with each field of `names` replaced by its flag. A field with `_` or `.` is replaced wherever
 * it stands as a whole token; a plain word (`cron`, `path`) only where it names a value or opens the
 * message (`cron '0 25 * * *' is not…`), so that the word in a sentence stays a word.
 */
export function withFlagNames(text: string, names: FlagNames): string {
  const fields = Object.keys(names).sort((a, b) => b.length - a.length);
  let out = text;
  for (const field of fields) {
    const flag = names[field]!;
    for (const spelling of new Set([field, camel(field)])) {
      const token = escape(spelling);
      const patterns = /[._A-Z]/.test(spelling)
        ? [new RegExp(`(^|[\\s('"])${token}(?![\\w.\\[])`, 'g')]
        : [new RegExp(`(^)${token}(?=\\s)`, 'g'), new RegExp(`([\\s(])${token}(?= ['"])`, 'g')];
      for (const pattern of patterns) out = out.replace(pattern, (_match, lead: string) => `${lead}${flag}`);
    }
  }
  return out;
}

/** Runs `call`; a refusal naming request fields is rethrown naming the flags (see the module comment). */
export async function namingFlags<T>(names: FlagNames, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof CliError) || !TRANSLATED.has(error.code)) throw error;
    const detail = withFlagNames(error.detail, names);
    if (detail === error.detail) throw error;
    throw new CliError(`${error.code}: ${detail}`, { cause: error.cause, code: error.code, detail, exitCode: error.exitCode });
  }
}
