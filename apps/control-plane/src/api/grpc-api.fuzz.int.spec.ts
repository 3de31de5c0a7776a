import {
  Client,
  credentials,
  Metadata,
  status,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  ChannelServiceService,
  ClusterServiceService,
  ConfigServiceService,
  ConnectionServiceService,
  SecretServiceService,
  ScheduleServiceService,
  SecurityServiceService,
  DeployServiceService,
  InvokeServiceService,
  MirrorServiceService,
  AuditServiceService,
  UserServiceService,
  JobState,
  Lane,
  ServerServiceService,
  SyncServiceClient,
  WaitFor,
  type SyncRequest,
  type SyncResponse,
} from '@laneway/proto';
import { laneQueueName } from '@laneway/lanes';
import { Worker } from 'bullmq';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  Enum,
  Namespace,
  Root,
  Service,
  Type,
  type Field,
  type Method,
  type ReflectionObject,
} from 'protobufjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { shownValue } from '../errors';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { deleteRedisPrefix } from '../testing/redis-prefix';

/*
 * Fuzzes every unary method of the gRPC API with requests built from the .proto files at test time
 * (protobufjs), sent as raw bytes, and checks every answer: no INTERNAL or UNKNOWN but gRPC's own
 * request-parse failure, no stack trace or path of ours in a message, an answer within the deadline,
 * and the status the token calls for. Reproduce a failure with LANEWAY_FUZZ_SEED=<seed printed>.
 */

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SEED = process.env['LANEWAY_FUZZ_SEED'] ? Number(process.env['LANEWAY_FUZZ_SEED']) : undefined;
const PROTO_ROOT = join(__dirname, '../../../../proto');
// Runs per method (LANEWAY_FUZZ_RUNS for a longer soak; bytes that are not protobuf get a third).
const RUNS = Number(process.env['LANEWAY_FUZZ_RUNS'] ?? 80);
const RAW_RUNS = Math.ceil(RUNS / 3);
// Every call gets this deadline; no request below asks to wait longer than about 0.5 s.
const DEADLINE_MS = 15_000;
// A property stops after this long: a hang found early is not shrunk for minutes, 15 s a step.
const PROPERTY_LIMIT_MS = 30_000 * Math.max(1, RUNS / 80);
const TEST_TIMEOUT_MS = PROPERTY_LIMIT_MS + 2 * DEADLINE_MS;

const STACK_TRACE = /\n\s+at /;
const OUR_PATHS = /\.ts:\d+|\/src\/|node:internal|\/work\//;
// What grpc-js answers when a request's bytes do not decode (the generated decoder threw).
const PARSE_FAILURE = /^Error deserializing request(: .*)?$/;

const CLUSTER = `fuzz-${process.pid}`;
const SERVER = 'fuzz-server-1';
const ECHO = 'fuzz.echo';
const CRUNCH = 'fuzz.crunch';

/** The ts-proto definition of every method: the server's own decoder, the oracle of parse failures. */
const DEFINITIONS = new Map<string, { requestDeserialize(bytes: Buffer): unknown }>(
  [
    ClusterServiceService,
    DeployServiceService,
    InvokeServiceService,
    ServerServiceService,
    ChannelServiceService,
    SecurityServiceService,
    ConnectionServiceService,
    SecretServiceService,
    ScheduleServiceService,
    ConfigServiceService,
    MirrorServiceService,
    AuditServiceService,
    UserServiceService,
  ].flatMap((service) =>
    Object.values(service)
      // Streams (MirrorService.Pull) are not fuzzed here, as SyncService is not.
      .filter((definition) => !definition.requestStream && !definition.responseStream)
      .map((definition) => [definition.path, definition] as const),
  ),
);

type TokenKind = 'admin' | 'none' | 'garbage' | 'malformed' | 'join';

interface Answer {
  code: status;
  details: string;
  errorCode: string | undefined;
  response: Buffer | undefined;
  elapsedMs: number;
}

interface FuzzedRequest {
  message: Record<string, unknown>;
  extra: number[];
}

interface UnaryMethod {
  path: string;
  method: Method;
  request: Type;
  response: Type;
}

/** Fixture values the generated requests mix in, so that many of them reach past the lookups. */
interface Fixtures {
  clusters: string[];
  services: string[];
  servers: string[];
  jobs: string[];
  versions: string[];
}

function serviceSource(name: string, lane: 'network' | 'cpu' = 'network'): string {
  return `import { defineService } from '@laneway/sdk';
export default defineService({ name: ${JSON.stringify(name)}, lane: '${lane}', timeoutMs: 200, attempts: 1, handle: (input) => input });
`;
}

function unaryMethods(root: Root): UnaryMethod[] {
  const found: UnaryMethod[] = [];
  const walk = (object: ReflectionObject): void => {
    if (object instanceof Service) {
      for (const method of object.methodsArray) {
        if (method.requestStream || method.responseStream) continue;
        found.push({
          path: `/${object.fullName.slice(1)}/${method.name}`,
          method,
          request: method.resolvedRequestType!,
          response: method.resolvedResponseType!,
        });
      }
    }
    if (object instanceof Namespace) object.nestedArray.forEach(walk);
  };
  walk(root);
  return found;
}

// ---- arbitraries ----------------------------------------------------------------------------------

const harmless = (s: string): boolean => !OUR_PATHS.test(s) && !STACK_TRACE.test(s);

/** Strings no valid request would carry: empty, long, unicode, control characters, paths, JSON. */
const trickyString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
    // Lone surrogates too: protobufjs encodes them as bytes that are not UTF-8 (the server cannot parse those).
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '\0',
        'a\0b',
        '\u0001\u0002\u0003',
        '\u001b[2J',
        '\u007f',
        '\u0085',
        '\r\n',
        '\t',
        '😀',
        'x😀y',
        '\u202eevil',
        '\ufeffbom',
        '%s%n%x',
        "'; DROP TABLE clusters; --",
        '${process.exit(1)}',
        '__proto__',
        'constructor',
        '../',
        '../../../../etc/passwd',
        '..\\..\\windows',
        '/',
        'C:\\x.ts',
        '{"a":1}',
        '[',
        'null',
        'NaN',
        '%',
        '*',
        '_',
        '\\',
        ' default',
        'DEFAULT',
        'default\n',
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(65, 201, 1025, 5000, 70_000, 100_000),
          fc.constantFrom('x', 'é', '😀', '\0', '[', 'a-'),
        )
        .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length))),
    },
  )
  .filter(harmless);

const edgeUint32 = fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -1);
const edgeInt32 = fc.constantFrom(0, 1, -1, 2 ** 31 - 1, -(2 ** 31));

function numberFor(fieldName: string, type: string): fc.Arbitrary<number> {
  if (fieldName === 'timeout_ms') {
    // 0 means the default: 200-300 ms for the fixture services, 10 s for a deploy's wait (acked at once).
    return fc.oneof(
      {
        weight: 1,
        arbitrary: fc.constantFrom(0, 1, DEFAULT_LIMITS.maxTimeoutMs + 1, 2 ** 31 - 1, 2 ** 32 - 1),
      },
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 400 }) },
    );
  }
  if (fieldName === 'limit')
    return fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom(0, 1, 10_000, 10_001, 2 ** 32 - 1) },
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 50 }) },
    );
  if (type.startsWith('uint') || type === 'fixed32')
    return fc.oneof(edgeUint32, fc.integer({ min: 0, max: 1000 }));
  if (type.endsWith('64')) return fc.oneof(edgeInt32, fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40));
  return fc.oneof(edgeInt32, fc.integer({ min: -1000, max: 1000 }));
}

type Mode = 'valid' | 'fuzzed';

function arbitraries(fixtures: Fixtures) {
  const missing = {
    cluster: 'no-such-cluster',
    service: 'no.such.service',
    server: 'no-such-server',
    job: 'no-such-job',
  };
  // A service of the fixtures, or a new one (two files of one deploy rarely define the same name).
  const template = fc
    .oneof(
      fc.constantFrom(...fixtures.services),
      fc.nat(1_000_000).map((n) => `fuzz.new-${n}`),
    )
    .map((name) => serviceSource(name));
  // What a correct client sends: existing names, fine code, JSON (and short waits, below).
  const valid: Record<string, fc.Arbitrary<string>> = {
    name: fc.constantFrom(...fixtures.clusters, ...fixtures.services),
    cluster: fc.constantFrom(...fixtures.clusters),
    service: fc.constantFrom(...fixtures.services),
    server: fc.constantFrom(...fixtures.servers),
    job_id: fc.constantFrom(...fixtures.jobs),
    version: fc.constantFrom(...fixtures.versions),
    path: fc.constantFrom(
      'services/a.ts',
      'b.js',
      'c.mts',
      'd.tsx',
      'e.cjs',
      '../../up.ts',
      '/abs/path.ts',
      'dir/../f.ts',
      'g',
    ),
    content: template,
    input_json: fc.json({ maxDepth: 2 }),
  };
  // Mostly what a correct client sends, often anything at all.
  const mixed = (validValues: fc.Arbitrary<string>, ...others: string[]): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 6, arbitrary: validValues },
      { weight: 1, arbitrary: fc.constantFrom('', ...others) },
      { weight: 3, arbitrary: trickyString },
    );
  const content = fc.oneof(
    { weight: 4, arbitrary: template },
    {
      weight: 2,
      arbitrary: fc
        .oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,20}$/), trickyString)
        .map((name) => serviceSource(name)),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'const x = ;',
        'export default 42;',
        'throw new Error("thrown by the top level");',
        'throw null;',
        "import { defineService } from '@laneway/sdk'; export default defineService({ name: 'a' });",
        "import fs from 'node:fs'; export default fs.readFileSync('/etc/passwd', 'utf8');",
        'module.exports = { default: { name: 1 } };',
        'export default Symbol();',
        '}{',
        '<div>jsx</div>',
        'enum A { B }',
        '',
      ),
    },
    {
      // Errors that quote a huge part of the file: past 64 KiB a status message is never delivered.
      weight: 1,
      arbitrary: fc.constantFrom('x'.repeat(100_000), `throw new Error('${'m'.repeat(70_000)}');`),
    },
    { weight: 2, arbitrary: trickyString },
  );
  const inputJson = fc.oneof(
    { weight: 4, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        '{',
        'undefined',
        'NaN',
        "{'a':1}",
        '[1,]',
        '😀',
        '"\\ud800"',
        '1e999',
        '-0',
        '{"__proto__":{"x":1}}',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(300, 5000, 50_000).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        JSON.stringify('x'.repeat(DEFAULT_LIMITS.maxInvokeInputBytes)),
        '"😀"'.repeat(100_000),
      ),
    },
    { weight: 2, arbitrary: trickyString },
  );
  const fuzzed: Record<string, fc.Arbitrary<string>> = {
    name: fc.oneof(
      mixed(valid['name']!, missing.cluster, missing.service),
      fc.integer({ min: 0, max: 1_000_000 }).map((n) => `fz-${n}`),
    ),
    cluster: mixed(valid['cluster']!, missing.cluster),
    service: mixed(valid['service']!, missing.service),
    server: mixed(valid['server']!, missing.server),
    job_id: mixed(valid['job_id']!, missing.job, '1'),
    version: mixed(valid['version']!, '000000', 'abc'),
    path: mixed(valid['path']!),
    content,
    input_json: inputJson,
  };
  const stringOf = (name: string, mode: Mode): fc.Arbitrary<string> =>
    (mode === 'valid' ? valid[name] : fuzzed[name]) ??
    (mode === 'valid' ? fc.string({ maxLength: 10 }) : trickyString);

  const enumOf = (e: Enum, mode: Mode): fc.Arbitrary<number> => {
    const known = fc.constantFrom(...Object.values(e.values));
    if (mode === 'valid') return known;
    return fc.oneof(
      { weight: 3, arbitrary: known },
      { weight: 1, arbitrary: fc.constantFrom(-1, 99, 2 ** 31 - 1, -(2 ** 31)) },
    );
  };

  const numberOf = (field: Field, mode: Mode): fc.Arbitrary<number> => {
    // timeout_ms 0 means the default: 200 ms for the fixture services, 10 s for a deploy's wait (ACKed at once).
    if (mode === 'valid') return fc.integer({ min: 0, max: field.name === 'timeout_ms' ? 300 : 50 });
    return numberFor(field.name, field.type);
  };

  const fieldOf = (field: Field, depth: number, mode: Mode): fc.Arbitrary<unknown> => {
    field.resolve();
    const one = (): fc.Arbitrary<unknown> => {
      const resolved = field.resolvedType;
      if (resolved instanceof Type) return depth < 3 ? messageOf(resolved, depth + 1, mode) : fc.constant({});
      if (resolved instanceof Enum) return enumOf(resolved, mode);
      if (field.type === 'string') return stringOf(field.name, mode);
      if (field.type === 'bool') return fc.boolean();
      if (field.type === 'bytes') return fc.uint8Array({ maxLength: 64 });
      if (field.type === 'double' || field.type === 'float') return fc.double();
      return numberOf(field, mode);
    };
    if (!field.repeated) return one();
    if (mode === 'valid')
      return fc.uniqueArray(one(), {
        minLength: 1,
        maxLength: 3,
        selector: (v) => (v as { path?: unknown }).path ?? v,
      });
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 5, arbitrary: fc.array(one(), { minLength: 1, maxLength: 4 }) },
    );
  };

  /** A message: in 'valid' mode every field as a correct client sets it; fuzzed, anything (fields left out now and then). */
  const messageOf = (type: Type, depth: number, mode: Mode): fc.Arbitrary<Record<string, unknown>> => {
    const fields: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of type.fieldsArray) {
      if (field.partOf) continue;
      const value = fieldOf(field, depth, mode);
      fields[field.name] = mode === 'valid' ? value : fc.option(value, { freq: 8, nil: undefined });
    }
    const plain = fc.record(fields);
    if (type.oneofsArray.length === 0) return plain;
    const choices = type.oneofsArray.map((oneof) =>
      fc.option(
        fc.oneof(...oneof.fieldsArray.map((f) => fieldOf(f, depth, mode).map((v) => ({ [f.name]: v })))),
        { nil: {} },
      ),
    );
    return fc
      .tuple(plain, ...choices)
      .map(([base, ...picked]) => Object.assign({}, base, ...picked) as Record<string, unknown>);
  };

  /**
   * A valid message with one field fuzzed (in a nested message: one of its fields), so that the
   * fuzzed value gets past every other check and reaches the code behind them.
   */
  const nearlyValidOf = (type: Type, depth: number): fc.Arbitrary<Record<string, unknown>> => {
    const fields = type.fieldsArray.filter((f) => !f.partOf);
    if (fields.length === 0 || depth > 3) return messageOf(type, depth, 'fuzzed');
    return fc.nat(fields.length - 1).chain((chosen) => {
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      fields.forEach((field, n) => {
        record[field.name] = n === chosen ? varied(field, depth) : fieldOf(field, depth, 'valid');
      });
      return fc.record(record);
    });
  };

  const varied = (field: Field, depth: number): fc.Arbitrary<unknown> => {
    field.resolve();
    const nested = field.resolvedType;
    if (!(nested instanceof Type)) return fieldOf(field, depth, 'fuzzed');
    const one = nearlyValidOf(nested, depth + 1);
    if (!field.repeated) return fc.oneof(one, fieldOf(field, depth, 'fuzzed'));
    const others = fc.array(messageOf(nested, depth + 1, 'valid'), { maxLength: 2 });
    return fc.oneof(
      fc.tuple(others, one, others).map(([before, item, after]) => [...before, item, ...after]),
      fieldOf(field, depth, 'fuzzed'),
    );
  };

  /** Bytes appended after a valid encoding: unknown fields, 64-bit varints, wrong wire types, groups. */
  const extrasOf = (type: Type): fc.Arbitrary<number[]> => {
    const ids = type.fieldsArray.map((f) => f.id);
    const known = ids.length > 0 ? fc.constantFrom(...ids) : fc.constant(1);
    const payload = fc.uint8Array({ maxLength: 16 }).map((b) => [...b]);
    const extra = fc.oneof(
      fc
        .tuple(known, fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, 2n ** 53n + 1n))
        .map(([id, v]) => [...tag(id, 0), ...varint(v)]),
      fc.tuple(known, payload).map(([id, b]) => [...tag(id, 2), ...varint(BigInt(b.length)), ...b]),
      fc
        .tuple(known, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))
        .map(([id, v]) => [...tag(id, 0), ...varint(v)]),
      fc
        .tuple(fc.integer({ min: 100, max: 2 ** 29 - 1 }), fc.constantFrom(0, 1, 2, 5), payload)
        .map(([id, wire, b]) =>
          wire === 0
            ? [...tag(id, 0), ...varint(BigInt(b[0] ?? 0))]
            : wire === 1
              ? [...tag(id, 1), ...pad(b, 8)]
              : wire === 5
                ? [...tag(id, 5), ...pad(b, 4)]
                : [...tag(id, 2), ...varint(BigInt(b.length)), ...b],
        ),
      fc.integer({ min: 100, max: 1000 }).map((id) => [...tag(id, 3), ...tag(id + 1, 0), 1, ...tag(id, 4)]),
      fc.integer({ min: 100, max: 1000 }).map((id) => tag(id, 3)),
    );
    return fc.array(extra, { maxLength: 3 }).map((list) => list.flat());
  };

  /**
   * A request: a message of the method's type, and sometimes extra bytes to put after its encoding
   * (kept apart, so that a counterexample reads as a message; encodeRequest() makes the bytes).
   */
  const requestOf = (type: Type): fc.Arbitrary<FuzzedRequest> =>
    fc.record({
      message: fc.oneof(
        { weight: 2, arbitrary: nearlyValidOf(type, 0) },
        { weight: 1, arbitrary: messageOf(type, 0, 'fuzzed') },
      ),
      extra: fc.oneof(
        { weight: 3, arbitrary: fc.constant<number[]>([]) },
        { weight: 1, arbitrary: extrasOf(type) },
      ),
    });

  /** Bytes that are not protobuf, or a valid encoding cut short or with a byte changed. */
  const garbageOf = (type: Type): fc.Arbitrary<Buffer> =>
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b)),
      fc.constantFrom(
        Buffer.from([0xff]),
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        Buffer.from([0x0a, 0x02, 0xc3, 0x28]),
        Buffer.alloc(64, 0xff),
      ),
      fc.tuple(requestOf(type), fc.nat(), fc.nat(255)).map(([request, at, value]) => {
        const bytes = encodeRequest(type, request);
        if (bytes.length === 0) return Buffer.from([value]);
        const cut = bytes.subarray(0, at % bytes.length);
        const changed = Buffer.from(bytes);
        changed[at % bytes.length] = value;
        return at % 2 === 0 ? cut : changed;
      }),
    );

  const token = fc.oneof(
    { weight: 10, arbitrary: fc.constant<TokenKind>('admin') },
    { weight: 1, arbitrary: fc.constantFrom<TokenKind>('none', 'garbage', 'malformed', 'join') },
  );

  return { requestOf, garbageOf, token };
}

function encodeRequest(type: Type, request: FuzzedRequest): Buffer {
  return Buffer.concat([Buffer.from(type.encode(request.message).finish()), Buffer.from(request.extra)]);
}

function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

function tag(id: number, wire: number): number[] {
  return varint((BigInt(id) << 3n) | BigInt(wire));
}

function pad(bytes: number[], length: number): number[] {
  return Array.from({ length }, (_, n) => bytes[n] ?? 0);
}

/** Every string in a decoded request: what the server may quote back in a message. */
function stringsIn(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, into));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => stringsIn(v, into));
  return into;
}

/** `details` without the request's own strings (as sent, and as shownValue quotes them). */
function withoutEchoes(details: string, sent: string[]): string {
  let rest = details;
  const echoes = sent
    .filter((s) => s.length >= 3)
    .flatMap((s) => [
      s,
      shownValue(s)
        .slice(1)
        .replace(/'( \(\d+ characters\))?$/, ''),
    ]);
  for (const echo of echoes.sort((a, b) => b.length - a.length)) rest = rest.split(echo).join('<echo>');
  return rest;
}

/** The .proto files, read with protobufjs when the tests are collected: one test per unary method. */
function loadProtos(): Root {
  const root = new Root();
  root.resolvePath = (_origin, file) => join(PROTO_ROOT, file);
  root.loadSync(
    readdirSync(join(PROTO_ROOT, 'laneway/v1')).map((file) => `laneway/v1/${file}`),
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

const METHODS = unaryMethods(loadProtos());

// ---- the test -------------------------------------------------------------------------------------

describe('the gRPC API under arbitrary requests', () => {
  const prefix = `lwtest-fuzz-${randomBytes(6).toString('hex')}`;
  const instanceId = randomBytes(8).toString('hex');
  let dataDir: string;
  let running: RunningControlPlane;
  let client: Client;
  let syncClient: SyncServiceClient;
  let joinToken = '';
  let sync: ClientDuplexStream<SyncRequest, SyncResponse> | undefined;
  let syncEnded = true;
  let redis: Redis;
  const workers: Worker[] = [];
  const fixtures: Fixtures = {
    clusters: ['default', CLUSTER],
    services: [ECHO, CRUNCH],
    servers: [SERVER],
    jobs: [],
    versions: [],
  };

  function metadataFor(kind: TokenKind): Metadata {
    const metadata = new Metadata();
    const header = {
      admin: `Bearer ${running.adminToken}`,
      none: undefined,
      garbage: `Bearer lwa_${'0'.repeat(32)}`,
      malformed: `Basic ${running.adminToken}`,
      join: `Bearer ${joinToken}`,
    }[kind];
    if (header !== undefined) metadata.set('authorization', header);
    return metadata;
  }

  function call(path: string, body: Buffer, kind: TokenKind): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        path,
        (x: Buffer) => x,
        (x: Buffer) => x,
        body,
        metadataFor(kind),
        { deadline: Date.now() + DEADLINE_MS },
        (err: ServiceError | null, response?: Buffer) => {
          const errorCode = err?.metadata?.get('laneway-error-code')[0];
          resolve({
            code: err ? err.code : status.OK,
            details: err?.details ?? '',
            errorCode: typeof errorCode === 'string' ? errorCode : undefined,
            response,
            elapsedMs: performance.now() - started,
          });
        },
      );
    });
  }

  /** A request built by hand, encoded with the method's type from the .proto. */
  function encoded(method: string, request: Record<string, unknown>): Buffer {
    const m = METHODS.find((x) => x.method.name === method)!;
    return Buffer.from(m.request.encode(request).finish());
  }

  /** Runs one call as the admin with a request built by hand; fails on an error status. */
  async function adminCall(path: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const m = METHODS.find((x) => x.path === path)!;
    const answer = await call(path, encoded(m.method.name, request), 'admin');
    if (answer.code !== status.OK)
      throw new Error(`${path} answered ${status[answer.code]}: ${answer.details}`);
    return m.response.toObject(m.response.decode(answer.response!), {
      defaults: true,
      longs: Number,
      enums: Number,
    });
  }

  /** Every property of a sound answer; `bytes` is what was sent, `kind` the token it carried. */
  function expectSound(m: UnaryMethod, bytes: Buffer, kind: TokenKind, answer: Answer): void {
    const where = `${m.path} answered ${status[answer.code]} "${answer.details.slice(0, 300)}"`;
    expect(answer.elapsedMs, `${where} after ${Math.round(answer.elapsedMs)} ms`).toBeLessThan(DEADLINE_MS);
    let decoded: unknown;
    let parseError: unknown;
    try {
      decoded = DEFINITIONS.get(m.path)!.requestDeserialize(bytes);
    } catch (err) {
      parseError = err;
    }
    if (parseError) {
      // The server's own decoder throws on these bytes: grpc-js answers before any handler runs.
      expect(answer.code, `${where}; the bytes do not decode (${String(parseError)})`).toBe(status.INTERNAL);
      expect(answer.details, where).toMatch(PARSE_FAILURE);
      return;
    }
    if (answer.code === status.OK) {
      expect(kind, `${where} to a call with a ${kind} token`).toBe('admin');
      expect(() => m.response.decode(answer.response!), `${where}: the response decodes`).not.toThrow();
      return;
    }
    expect(answer.code, where).not.toBe(status.INTERNAL);
    if (answer.code === status.UNKNOWN) {
      // Only a deployed service that threw answers UNKNOWN (no server runs services in this test).
      expect(m.path, where).toBe('/laneway.v1.InvokeService/Invoke');
      expect(answer.errorCode, where).toBe('SERVICE_FAILED');
    }
    // Every error is one of ours (with its code; a client-side deadline has none) or gRPC's own size limit.
    if (answer.code !== status.RESOURCE_EXHAUSTED || answer.errorCode !== undefined) {
      expect(answer.errorCode, `${where}: laneway-error-code`).toBeDefined();
    } else {
      expect(answer.details, where).toMatch(/^Received message larger than max/);
    }
    const scrubbed = withoutEchoes(answer.details, stringsIn(decoded));
    expect(scrubbed, `${where}: a stack trace`).not.toMatch(STACK_TRACE);
    expect(scrubbed, `${where}: a path of ours`).not.toMatch(OUR_PATHS);
    if (m.path === '/laneway.v1.UserService/Login') {
      // Login needs no token, whichever is sent: a guessed password is refused, a malformed request is
      // invalid, and past the per-user or per-address limit of failures it is RESOURCE_EXHAUSTED.
      expect([status.UNAUTHENTICATED, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED], where).toContain(answer.code);
      return;
    }
    if (kind === 'none' || kind === 'garbage' || kind === 'malformed')
      expect(answer.code, where).toBe(status.UNAUTHENTICATED);
    if (kind === 'join')
      expect([status.PERMISSION_DENIED, status.UNAUTHENTICATED], where).toContain(answer.code);
  }

  async function connectServer(): Promise<void> {
    if (!syncEnded) return;
    const { token } = await adminCall('/laneway.v1.ClusterService/GetJoinToken', { name: CLUSTER });
    joinToken = String(token);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${joinToken}`);
    const stream = syncClient.sync(metadata);
    sync = stream;
    syncEnded = false;
    const first = new Promise<void>((resolve, reject) => {
      stream.on('data', (push: SyncResponse) => {
        // A well-behaved server: ACKs every push at once.
        stream.write({ ack: { nonce: push.nonce, revision: push.revision } });
        resolve();
      });
      stream.on('error', (err) => {
        syncEnded = true;
        reject(err);
      });
      stream.on('end', () => {
        syncEnded = true;
      });
    });
    stream.write({
      hello: {
        cluster: CLUSTER,
        server: SERVER,
        host: 'fuzz-host',
        pid: process.pid,
        lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
        appliedRevision: 0,
        instanceId,
        httpAddress: '',
      },
    });
    await first;
  }

  /** Puts the fixtures back (a fuzzed DeleteCluster, Undeploy or RotateJoinToken may have changed them). */
  async function restoreFixtures(): Promise<void> {
    for (const name of ['default', CLUSTER]) {
      const created = await call(
        '/laneway.v1.ClusterService/CreateCluster',
        encoded('CreateCluster', { name }),
        'admin',
      );
      expect([status.OK, status.ALREADY_EXISTS], created.details).toContain(created.code);
    }
    const deployed = await adminCall('/laneway.v1.DeployService/Deploy', {
      cluster: CLUSTER,
      files: [
        { path: 'fixtures/echo.ts', content: serviceSource(ECHO) },
        { path: 'fixtures/crunch.ts', content: serviceSource(CRUNCH, 'cpu') },
      ],
      wait_for: WaitFor.WAIT_FOR_NONE,
    });
    for (const service of deployed['services'] as { version: string }[]) {
      if (!fixtures.versions.includes(service.version))
        fixtures.versions.push(service.version, service.version.slice(0, 6));
    }
    await connectServer();
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-fuzz-'));
    running = await startControlPlane(
      {
        grpcAddress: '127.0.0.1:0',
        dataDir,
        databaseUrl: undefined,
        redisUrl: REDIS_URL,
        queuePrefix: prefix,
        adminToken: undefined,
        logLevel: 'silent',
        limits: DEFAULT_LIMITS,
        compile: TEST_COMPILE,
      },
      pino({ level: 'silent' }),
      { compileWorkerPath: await compileWorkerBundle() },
    );
    const target = `127.0.0.1:${running.port}`;
    client = new Client(target, credentials.createInsecure());
    syncClient = new SyncServiceClient(target, credentials.createInsecure());

    await restoreFixtures();
    // Stands in for a server that fails every job, so that failed jobs exist to list and retry.
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    for (const lane of ['network', 'cpu'] as const) {
      workers.push(
        new Worker(
          laneQueueName(CLUSTER, lane),
          async (): Promise<unknown> => {
            throw new Error('the fuzz fixture fails every job');
          },
          { connection: redis, prefix, concurrency: 4 },
        ),
      );
    }
    const { job_id: jobId } = await adminCall('/laneway.v1.InvokeService/InvokeAsync', {
      cluster: CLUSTER,
      service: ECHO,
      input_json: '{"n":1}',
    });
    fixtures.jobs.push(String(jobId));
    for (let tries = 0; ; tries++) {
      const job = await adminCall('/laneway.v1.InvokeService/GetJob', { cluster: CLUSTER, job_id: jobId });
      if (job['state'] === JobState.JOB_STATE_FAILED) break;
      if (tries === 100) throw new Error(`the fixture job never failed: ${JSON.stringify(job)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    sync?.end();
    syncClient?.close();
    client?.close();
    await Promise.all(workers.map((w) => w.close()));
    await running?.close();
    if (redis) {
      await deleteRedisPrefix(prefix, REDIS_URL);
      redis.disconnect();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await restoreFixtures();
  });

  it('finds every unary method of the .proto files, each with its generated definition', () => {
    expect(METHODS.map((m) => m.path).sort()).toEqual([...DEFINITIONS.keys()].sort());
    expect(METHODS.length).toBeGreaterThanOrEqual(20);
  });

  // One test per method, named by its path.
  it.each(METHODS.map((m) => m.path))(
    'answers arbitrary requests to %s soundly',
    async (path) => {
      const m = METHODS.find((x) => x.path === path)!;
      const { requestOf, token } = arbitraries(fixtures);
      await fc.assert(
        fc.asyncProperty(requestOf(m.request), token, async (request, kind) => {
          const bytes = encodeRequest(m.request, request);
          expectSound(m, bytes, kind, await call(m.path, bytes, kind));
        }),
        { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: PROPERTY_LIMIT_MS },
      );
    },
    TEST_TIMEOUT_MS,
  );

  it.each(METHODS.map((m) => m.path))(
    'answers bytes that are not protobuf to %s soundly',
    async (path) => {
      const m = METHODS.find((x) => x.path === path)!;
      const { garbageOf, token } = arbitraries(fixtures);
      await fc.assert(
        fc.asyncProperty(garbageOf(m.request), token, async (bytes, kind) => {
          expectSound(m, bytes, kind, await call(m.path, bytes, kind));
        }),
        { numRuns: RAW_RUNS, seed: SEED, interruptAfterTimeLimit: PROPERTY_LIMIT_MS },
      );
    },
    TEST_TIMEOUT_MS,
  );

  it('ends a sync stream that receives garbage with a status, not a hang', async () => {
    for (const kind of ['join', 'admin', 'none'] as const) {
      const stream = client.makeBidiStreamRequest(
        '/laneway.v1.SyncService/Sync',
        (x: Buffer) => x,
        (x: Buffer) => x,
        metadataFor(kind),
        {
          deadline: Date.now() + DEADLINE_MS,
        },
      );
      const ended = new Promise<{ code: status; details: string }>((resolve) => {
        stream.on('data', () => undefined);
        stream.on('error', () => undefined);
        stream.on('status', (s: { code: status; details: string }) => resolve(s));
      });
      stream.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
      stream.write(randomBytes(256));

      const answer = await ended;

      expect(answer.code, answer.details).not.toBe(status.OK);
      expect(answer.code, answer.details).not.toBe(status.DEADLINE_EXCEEDED);
      if (answer.code === status.INTERNAL) expect(answer.details).toMatch(PARSE_FAILURE);
      expect(answer.details).not.toMatch(STACK_TRACE);
      expect(answer.details).not.toMatch(OUR_PATHS);
    }
  });

  it('still answers afterwards: lists clusters, deploys and lists the services', async () => {
    const listed = await adminCall('/laneway.v1.ClusterService/ListClusters', {});
    expect((listed['clusters'] as { name: string }[]).map((c) => c.name)).toContain(CLUSTER);
    const fresh = `after-fuzz-${process.pid}`;
    await adminCall('/laneway.v1.ClusterService/CreateCluster', { name: fresh });

    const deployed = await adminCall('/laneway.v1.DeployService/Deploy', {
      cluster: fresh,
      files: [{ path: 'services/after.ts', content: serviceSource('after.fuzz') }],
      wait_for: WaitFor.WAIT_FOR_ALL_SERVERS,
      timeout_ms: 2000,
    });
    const services = await adminCall('/laneway.v1.DeployService/ListServices', { cluster: fresh });

    expect(deployed['revision']).toBe(1);
    expect((services['services'] as { name: string }[]).map((s) => s.name)).toEqual(['after.fuzz']);
  });
});
