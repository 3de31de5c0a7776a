import { CHANNEL_METHODS, DEFAULT_CHANNEL_TIMEOUT_MS, type ChannelMethod, type ChannelRoute } from './channel-route';

/** Why a route was refused by {@link RouteTable.replace}: the route's name and a message naming the field and value. */
export interface RouteError {
  route: string;
  message: string;
}

/** The outcome of {@link RouteTable.match}. */
export type RouteMatch =
  | { kind: 'found'; route: ChannelRoute; params: Record<string, string> }
  /** No route has this path. */
  | { kind: 'no-path' }
  /** Routes have this path, not with this method: `allow` lists theirs. */
  | { kind: 'no-method'; allow: ChannelMethod[] }
  /** A segment of the path is not valid percent-encoding. */
  | { kind: 'bad-encoding'; segment: string };

export interface RouteTableOptions {
  /** Literal paths the front door serves itself (e.g. `/healthz`): a route with one of them is refused. */
  reserved?: readonly string[];
}

interface Node {
  literals: Map<string, Node>;
  param: Node | undefined;
  /** Routes ending here, by method. */
  routes: Map<ChannelMethod, RouteEnd>;
}

/** A route where its path ends: the route, and how its parameters' values become `params`. */
interface RouteEnd {
  route: ChannelRoute;
  /** The parameter values in path order to the `params` object (one object shape per route). */
  params: (values: readonly string[]) => Record<string, string>;
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;
// RFC 3986 pchar without percent-encoding: what a literal segment may hold.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=@]+$/;
const MAX_PATH_LENGTH = 2048;
const MAX_TIMEOUT_MS = 24 * 3600_000;

/**
 * The channels of this server, matched by method and path. `replace` validates a whole new set and
 * swaps it in with one assignment, or changes nothing: a request holds the route it matched, so
 * requests in flight finish on the route they started with.
 */
export class RouteTable {
  private root: Node = node();
  private count = 0;
  private readonly reserved: ReadonlySet<string>;

  constructor(routes: readonly ChannelRoute[] = [], options: RouteTableOptions = {}) {
    this.reserved = new Set(options.reserved ?? []);
    const errors = this.replace(routes);
    if (errors.length) throw new Error(`invalid routes: ${errors.map((e) => e.message).join('; ')}`);
  }

  /** Routes in the table. */
  get size(): number {
    return this.count;
  }

  /**
   * Validates `routes` and, when every one is valid, makes them the table at once; otherwise leaves
   * the table as it was and returns the errors (one or more per bad route).
   */
  replace(routes: readonly ChannelRoute[]): RouteError[] {
    const built = this.build(routes);
    if (built.errors.length) return built.errors;
    this.root = built.root;
    this.count = routes.length;
    return [];
  }

  /** The errors {@link replace} would return, without changing the table (a push checks before it commits). */
  check(routes: readonly ChannelRoute[]): RouteError[] {
    return this.build(routes).errors;
  }

  private build(routes: readonly ChannelRoute[]): { root: Node; errors: RouteError[] } {
    const errors: RouteError[] = [];
    const root = node();
    const seen = new Map<string, string>();
    const names = new Set<string>();
    for (const route of routes) {
      const problems = validate(route, this.reserved);
      if (names.has(route.name)) problems.push(`route '${route.name}' is defined twice`);
      names.add(route.name);
      const segments = problems.length ? undefined : splitRoutePath(route.path);
      if (segments) {
        const shape = `${route.method} /${segments.map((s) => (s.param ? ':' : s.literal)).join('/')}`;
        const other = seen.get(shape);
        if (other !== undefined) {
          problems.push(`route '${route.name}': ${route.method} ${route.path} is already served by route '${other}'`);
        } else {
          seen.set(shape, route.name);
          insert(root, route, segments);
        }
      }
      for (const message of problems) errors.push({ route: route.name, message });
    }
    return { root, errors };
  }

  /** Finds the route for `method` and `path` (the request's path without its query string, still percent-encoded). */
  match(method: string, path: string): RouteMatch {
    const root = this.root;
    const values: string[] = [];
    if (!path.includes('%')) {
      // Most paths need no decoding: their segments are read where they lie, with no array of them.
      const hit = walk(root, path, path === '/' ? END : 1, '/', method as ChannelMethod, values);
      return hit ? { kind: 'found', route: hit.route, params: hit.params(values) } : unmatched(root, segmentsOf(path));
    }
    const segments: string[] = [];
    for (const segment of segmentsOf(path)) {
      try {
        segments.push(segment.includes('%') ? decodeURIComponent(segment) : segment);
      } catch {
        return { kind: 'bad-encoding', segment };
      }
    }
    // A decoded segment may hold '/' but never a lone surrogate (decodeURIComponent refuses those).
    // A path with '%' has at least one segment, so the walk starts at the first.
    const hit = walk(root, segments.join(DECODED_SEPARATOR), 0, DECODED_SEPARATOR, method as ChannelMethod, values);
    return hit ? { kind: 'found', route: hit.route, params: hit.params(values) } : unmatched(root, segments);
  }
}

/** Past the path's last segment (see {@link walk}). */
const END = -1;
/** What joins decoded segments for {@link walk}: a lone surrogate, which no decoded segment holds. */
const DECODED_SEPARATOR = '\uD800';

function segmentsOf(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** No route has this path and method: is the path served with other methods, or not at all? */
function unmatched(root: Node, segments: readonly string[]): RouteMatch {
  const ends: { node: Node; values: string[] }[] = [];
  collect(root, segments, 0, [], ends);
  if (!ends.length) return { kind: 'no-path' };
  const allowed = new Set<ChannelMethod>();
  for (const end of ends) for (const m of end.node.routes.keys()) allowed.add(m);
  return { kind: 'no-method', allow: CHANNEL_METHODS.filter((m) => allowed.has(m)) };
}

/**
 * The first route for `method` where the path ends, literal segments tried before parameters (the
 * order of {@link collect}); `values` holds the parameter values on the way to it. The segment at
 * hand starts at `start` (END: past the last one) and runs to the next `separator`, read in place.
 */
function walk(at: Node, path: string, start: number, separator: string, method: ChannelMethod, values: string[]): RouteEnd | undefined {
  if (start === END) return at.routes.get(method);
  const end = path.indexOf(separator, start);
  const segment = end < 0 ? path.slice(start) : path.slice(start, end);
  const next = end < 0 ? END : end + 1;
  const literal = at.literals.get(segment);
  if (literal) {
    const hit = walk(literal, path, next, separator, method, values);
    if (hit) return hit;
  }
  // A parameter never matches an empty segment ('/customers/' is not '/customers/:id').
  if (at.param && segment !== '') {
    values.push(segment);
    const hit = walk(at.param, path, next, separator, method, values);
    if (hit) return hit;
    values.pop();
  }
  return undefined;
}

function node(): Node {
  return { literals: new Map(), param: undefined, routes: new Map() };
}

/** Every node where the path ends with routes, literal segments before parameters. */
function collect(at: Node, segments: readonly string[], i: number, values: string[], out: { node: Node; values: string[] }[]): void {
  if (i === segments.length) {
    if (at.routes.size) out.push({ node: at, values: [...values] });
    return;
  }
  const segment = segments[i]!;
  const literal = at.literals.get(segment);
  if (literal) collect(literal, segments, i + 1, values, out);
  // A parameter never matches an empty segment ('/customers/' is not '/customers/:id').
  if (at.param && segment !== '') {
    values.push(segment);
    collect(at.param, segments, i + 1, values, out);
    values.pop();
  }
}

function insert(root: Node, route: ChannelRoute, segments: { literal: string; param: string | undefined }[]): void {
  let at = root;
  const names: string[] = [];
  for (const s of segments) {
    if (s.param) {
      names.push(s.param);
      at = at.param ??= node();
    } else {
      let next = at.literals.get(s.literal);
      if (!next) at.literals.set(s.literal, (next = node()));
      at = next;
    }
  }
  at.routes.set(route.method, { route, params: paramsBuilder(names) });
}

/**
 * Makes a route's `params` from its parameter values: an object literal with the route's names, so
 * that every request's params object has the same shape (filled by name in a loop, the stores went
 * megamorphic in a profile of the channel path). Each name is a computed key quoted by JSON.stringify,
 * so any name stays a string and '__proto__' a plain property, not the object's prototype.
 */
function paramsBuilder(names: readonly string[]): (values: readonly string[]) => Record<string, string> {
  if (!names.length) return () => ({});
  const fields = names.map((name, i) => `[${JSON.stringify(name)}]: values[${i}]`).join(', ');
  return new Function('values', `return { ${fields} };`) as (values: readonly string[]) => Record<string, string>;
}

function splitRoutePath(path: string): { literal: string; param: string | undefined }[] {
  if (path === '/') return [];
  return path
    .slice(1)
    .split('/')
    .map((segment) => ({ literal: segment, param: PARAM.exec(segment)?.[1] }));
}

/** The problems of one route, each naming the route, the field and its value. */
function validate(route: ChannelRoute, reserved: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const name = typeof route.name === 'string' && route.name ? route.name : undefined;
  const who = `route '${name ?? String(route.name)}'`;
  if (!name) problems.push(`${who} has name ${JSON.stringify(route.name)}; give it a non-empty name`);
  if (!CHANNEL_METHODS.includes(route.method)) {
    problems.push(`${who} has method ${JSON.stringify(route.method)}; use one of ${CHANNEL_METHODS.join(', ')}`);
  }
  if (typeof route.service !== 'string' || !route.service) problems.push(`${who} has service ${JSON.stringify(route.service)}; name the service to invoke`);
  if (typeof route.security !== 'string') problems.push(`${who} has security ${JSON.stringify(route.security)}; use a name or '' for public`);
  if (!Number.isInteger(route.timeoutMs) || route.timeoutMs < 0 || route.timeoutMs > MAX_TIMEOUT_MS) {
    problems.push(`${who} has timeoutMs ${JSON.stringify(route.timeoutMs)}; use a whole number from 0 (${DEFAULT_CHANNEL_TIMEOUT_MS} ms) to ${MAX_TIMEOUT_MS}`);
  }
  const pathProblem = checkPath(route.path);
  if (pathProblem) problems.push(`${who} has path ${JSON.stringify(route.path)}: ${pathProblem}`);
  else if (reserved.has(route.path)) problems.push(`${who} has path '${route.path}', which the server serves itself`);
  return problems;
}

function checkPath(path: unknown): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return "it must start with '/'";
  if (path.length > MAX_PATH_LENGTH) return `it is longer than ${MAX_PATH_LENGTH} characters`;
  if (path === '/') return undefined;
  const params = new Set<string>();
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'it has an empty segment';
    if (segment.startsWith(':')) {
      const param = PARAM.exec(segment)?.[1];
      if (!param) return `parameter '${segment}' must be ':' and a name of letters, digits and '_'`;
      if (params.has(param)) return `parameter ':${param}' appears twice`;
      params.add(param);
    } else if (!LITERAL.test(segment)) {
      return `segment '${segment}' holds a character outside letters, digits and -._~!$&'()*+,;=@`;
    }
  }
  return undefined;
}
