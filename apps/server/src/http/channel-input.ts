/** No JSON body was sent. */
export const NO_BODY: unique symbol = Symbol('no body');

/**
 * The input a channel's service receives: the JSON body, then the query parameters, then the path
 * parameters, each overriding the names of the ones before. A body that is not a JSON object (an
 * array, a string, a number, `null`) is passed as `{ body: value }`. Spreads copy own properties as
 * data properties, so a name such as '__proto__' stays a plain property (not the input's prototype).
 */
export function channelInput(
  body: unknown,
  query: Readonly<Record<string, string | string[]>>,
  params: Readonly<Record<string, string>>,
): Record<string, unknown> {
  // The common request (no body, no query) copies only its path parameters.
  if (body === NO_BODY) return hasProperties(query) ? { ...query, ...params } : { ...params };
  const base = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : { body };
  return { ...base, ...query, ...params };
}

function hasProperties(record: object): boolean {
  for (const name in record) if (Object.hasOwn(record, name)) return true;
  return false;
}
