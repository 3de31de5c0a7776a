/** The outcome of {@link parseQuery}. */
export type ParsedQuery = { ok: true; query: Record<string, string | string[]> } | { ok: false; part: string };

/**
 * Decodes a query string (without its `?`) strictly: `+` is a space, and a part that is not valid
 * percent-encoding is reported instead of being passed on half-decoded. A name given twice maps to
 * an array of its values.
 */
export function parseQuery(queryString: string): ParsedQuery {
  const query: Record<string, string | string[]> = {};
  if (!queryString) return { ok: true, query };
  for (const part of queryString.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decode(eq < 0 ? part : part.slice(0, eq));
      value = eq < 0 ? '' : decode(part.slice(eq + 1));
    } catch {
      return { ok: false, part };
    }
    const known = Object.hasOwn(query, name) ? query[name] : undefined;
    // defineProperty: a name such as '__proto__' becomes a plain property, not the object's prototype.
    const next = known === undefined ? value : Array.isArray(known) ? [...known, value] : [known, value];
    Object.defineProperty(query, name, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, query };
}

function decode(text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  return spaced.includes('%') ? decodeURIComponent(spaced) : spaced;
}
