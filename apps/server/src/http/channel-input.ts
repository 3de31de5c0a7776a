/** No JSON body was sent. */
export const NO_BODY: unique symbol = Symbol('no body');

/**
 * The input a channel's service receives: the JSON body, then the query parameters, then the path
 * parameters, each overriding the names of the ones before. A body that is not a JSON object (an
 * array, a string, a number, `null`) is passed as `{ body: value }`.
 */
export function channelInput(
  body: unknown,
  query: Readonly<Record<string, string | string[]>>,
  params: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const input: Record<string, unknown> =
    body === NO_BODY ? {} : body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...(body as object) } : { body };
  for (const source of [query, params]) {
    for (const [name, value] of Object.entries(source)) {
      // defineProperty for '__proto__', so that it stays a plain property (and not the prototype).
      if (name === '__proto__') Object.defineProperty(input, name, { value, enumerable: true, writable: true, configurable: true });
      else input[name] = value;
    }
  }
  return input;
}
