import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ApplyOutcome, AuditServiceClient, InvokeServiceClient, type AuditRecord, type InvokeResponse } from '@laneway/proto';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startCluster, withPgAdmin, type TestCluster } from '@laneway/testkit';

// Traces end to end, exported to a real OTLP/HTTP receiver (a node:http server decoding the JSON the
// exporter posts to /v1/traces): a channel request carrying a traceparent, a network-lane service
// that ctx.invokes a CPU-lane service through the lane queue (run by either of two servers), which
// queries the real PostgreSQL; and the control plane's Invoke RPC. Then the same cluster without
// OTEL_EXPORTER_OTLP_ENDPOINT sends nothing, not even to the exporter's default address.
const run = randomBytes(4).toString('hex');
const PG_ROLE = `lw_tr_${run}`;
const PG_TABLE = `lw_tr_items_${run}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

const services = `
import { defineService } from '@laneway/sdk';

export const front = defineService({
  name: 'tr.front',
  async handle(input: { id: string }, ctx) {
    const item = await ctx.invoke<{ name: string; server: string }>('tr.lookup', { id: input.id });
    return { ...item, front: ctx.server };
  },
});

export const lookup = defineService({
  name: 'tr.lookup',
  lane: 'cpu',
  connections: ['pg'],
  async handle(input: { id: string }, ctx) {
    const row = await ctx.sql('pg').selectFrom('${PG_TABLE}').select(['name']).where('id', '=', Number(input.id)).executeTakeFirst();
    return { name: row?.name ?? null, server: ctx.server };
  },
});
`;

/** One span as the receiver decoded it, with its resource's service name and attributes. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  service: string;
  resource: Record<string, unknown>;
}

// OTLP span kinds (opentelemetry/proto/trace/v1/trace.proto).
const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

function valueOf(value: OtlpValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  return value.doubleValue;
}

function attributesOf(list: { key: string; value?: OtlpValue }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));
}

/** A real OTLP/HTTP receiver: POST /v1/traces with an ExportTraceServiceRequest as JSON. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  requests = 0;
  readonly problems: string[] = [];
  private server: Server | undefined;

  async start(port = 0, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => {
      void this.take(req).then(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        },
        (err: unknown) => {
          this.problems.push(String(err));
          res.writeHead(400).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  private async take(req: IncomingMessage): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
    if (!String(req.headers['content-type']).startsWith('application/json')) throw new Error(`not JSON: ${req.headers['content-type']}`);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const request = JSON.parse(body.toString('utf8')) as {
      resourceSpans?: {
        resource?: { attributes?: { key: string; value?: OtlpValue }[] };
        scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: { key: string; value?: OtlpValue }[]; status?: { code?: number; message?: string } }[] }[];
      }[];
    };
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          this.spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
            status: span.status ?? {},
            service: String(resource['service.name']),
            resource,
          });
        }
      }
    }
  }

  ofTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The one span of `spans` named `name` (fails naming what there is otherwise). */
function only(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.length, `spans named '${name}' among ${JSON.stringify(spans.map((s) => `${s.service}: ${s.name}`))}`).toBe(1);
  return found[0]!;
}

describe('traces (OpenTelemetry over OTLP/HTTP)', () => {
  const receiver = new OtlpReceiver();
  let harness: TestCluster | undefined;

  const pgSpec = { postgres: { host: '127.0.0.1', port: 5432, database: 'test', user: PG_ROLE, password: PASSWORD, passwordSet: false, url: '', tlsMode: 'disable', caPem: '', poolSize: 2, statementTimeoutMs: 5000, connectTimeoutMs: 3000 } };

  /** Deploys the services, the pg connection and the channel on a started cluster. */
  const setUp = async (cluster: TestCluster): Promise<void> => {
    await cluster.api.createConnection(cluster.cluster, 'pg', pgSpec);
    const deployed = await cluster.api.deploy(cluster.cluster, [{ path: 'trace.ts', content: services }]);
    expect(deployed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    await cluster.api.putChannel(cluster.cluster, { name: 'item', method: 'GET', path: '/items/:id', service: 'tr.front' });
  };
  const get = async (cluster: TestCluster, server: number, path: string, traceparent?: string) => {
    const response = await fetch(`http://127.0.0.1:${cluster.httpPorts[server]}${path}`, { headers: traceparent ? { traceparent } : {} });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** InvokeService/Invoke on the control plane, with a traceparent in the call's metadata when given. */
  const invokeOnControlPlane = (cluster: TestCluster, service: string, input: unknown, traceparent?: string): Promise<InvokeResponse> => {
    const client = new InvokeServiceClient(cluster.cp.address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${cluster.cp.adminToken}`);
    if (traceparent) metadata.set('traceparent', traceparent);
    return new Promise<InvokeResponse>((resolve, reject) =>
      client.invoke({ cluster: cluster.cluster, service, inputJson: JSON.stringify(input), timeoutMs: 20_000 }, metadata, { deadline: Date.now() + 30_000 }, (err: ServiceError | null, res?: InvokeResponse) => {
        client.close();
        if (err) reject(err);
        else resolve(res!);
      }),
    );
  };
  const auditRecords = (cluster: TestCluster): Promise<AuditRecord[]> => {
    const client = new AuditServiceClient(cluster.cp.address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${cluster.cp.adminToken}`);
    return new Promise((resolve, reject) =>
      client.listAuditRecords({ cluster: cluster.cluster, since: '', pageSize: 100, pageToken: '' }, metadata, (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res!.records);
      }),
    );
  };

  /** Waits until the receiver holds spans of `traceId` with every name in `names`. */
  const spansOf = (traceId: string, names: string[]): Promise<ReceivedSpan[]> =>
    eventually(
      () => Promise.resolve(receiver.ofTrace(traceId)),
      (spans) => names.every((n) => spans.some((s) => s.name === n)),
      15_000,
    ).catch(() => {
      throw new Error(`trace ${traceId}: wanted ${names.join(', ')}; received ${JSON.stringify(receiver.ofTrace(traceId).map((s) => s.name))}`);
    });

  beforeAll(async () => {
    await withPgAdmin(async (client) => {
      const hba = await client.query(`SELECT count(*)::int AS n FROM pg_hba_file_rules WHERE '+laneway_pw' = ANY(user_name) OR 'laneway_pw' = ANY(user_name)`).catch(() => ({ rows: [{ n: 1 }] }));
      if (!hba.rows[0].n) throw new Error('PostgreSQL does not check passwords for role group laneway_pw: run tools/dev/pg-password-auth.sh as root');
      await client.query(`CREATE ROLE ${PG_ROLE} LOGIN PASSWORD '${PASSWORD}' IN ROLE laneway_pw`);
      await client.query(`CREATE TABLE ${PG_TABLE} (id int PRIMARY KEY, name text NOT NULL)`);
      await client.query(`INSERT INTO ${PG_TABLE} VALUES (1, 'lamp'), (2, 'desk')`);
      await client.query(`GRANT SELECT ON ${PG_TABLE} TO ${PG_ROLE}`);
    });
    const port = await receiver.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: '100' };
    harness = await startCluster({ servers: 2, http: true, name: 'lwtrace', env: otel, serverEnv: otel });
    await setUp(harness);
  });

  afterAll(async () => {
    await harness?.stop();
    await receiver.stop();
    await withPgAdmin(async (client) => {
      await client.query(`DROP TABLE IF EXISTS ${PG_TABLE}`);
      await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [PG_ROLE]);
      await client.query(`DROP ROLE IF EXISTS ${PG_ROLE}`);
    }).catch(() => undefined);
  });

  it('follows a channel request through the lane queue, a CPU thread and a SQL query in one trace, on either server', async () => {
    const cluster = harness!;
    const crossed = new Set<string>();
    // The CPU-lane job is taken by whichever server's worker waited longest (they take turns): repeat
    // until one request's job ran on the other server than the one that took the request, and one on
    // the same. Requests enter s1, s1, s2, s2, ... (alternating entries would follow the workers' turns).
    for (let attempt = 0; attempt < 24 && crossed.size < 2; attempt++) {
      const traceId = hex(16);
      const callerSpan = hex(8);
      const entry = (attempt >> 1) % 2;
      const answer = await get(cluster, entry, `/items/${1 + (attempt % 2)}`, `00-${traceId}-${callerSpan}-01`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ name: attempt % 2 ? 'desk' : 'lamp', front: `s${entry + 1}` });

      const spans = await spansOf(traceId, ['GET /items/:id', 'invoke tr.lookup', 'process tr.lookup', 'run tr.lookup', `SELECT test`]);
      // HTTP server span: a child of the caller's span, named and attributed by the route pattern.
      const request = only(spans, 'GET /items/:id');
      expect(request).toMatchObject({ kind: KIND.SERVER, parentSpanId: callerSpan, service: 'laneway-server' });
      expect(request.attributes).toMatchObject({ 'http.route': '/items/:id', 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': `/items/${1 + (attempt % 2)}` });
      expect(request.resource['service.instance.id']).toBe(`s${entry + 1}`);
      // ctx.invoke from the network-lane service, which ran in the request's span.
      const invoke = only(spans, 'invoke tr.lookup');
      expect(invoke).toMatchObject({ kind: KIND.CLIENT, parentSpanId: request.spanId, service: 'laneway-server' });
      expect(invoke.resource['service.instance.id']).toBe(`s${entry + 1}`);
      // The lane job, on whichever server took it: the child of the span whose traceparent it carried.
      const job = only(spans, 'process tr.lookup');
      expect(job).toMatchObject({ kind: KIND.CONSUMER, parentSpanId: invoke.spanId });
      expect(job.attributes).toMatchObject({ 'laneway.lane': 'cpu', 'messaging.system': 'bullmq' });
      const ranOn = String(job.attributes['laneway.server']);
      expect(job.resource['service.instance.id']).toBe(ranOn);
      // The CPU-lane thread's span, exported through its server's exporter.
      const thread = only(spans, 'run tr.lookup');
      expect(thread).toMatchObject({ kind: KIND.INTERNAL, parentSpanId: job.spanId });
      expect(thread.resource['service.instance.id']).toBe(ranOn);
      expect(thread.attributes['laneway.lane']).toBe('cpu');
      // The query, made in that thread.
      const query = only(spans, 'SELECT test');
      expect(query).toMatchObject({ kind: KIND.CLIENT, parentSpanId: thread.spanId });
      expect(query.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.namespace': 'test', 'db.operation.name': 'SELECT', 'server.address': '127.0.0.1', 'server.port': 5432 });
      expect(String(query.attributes['db.query.text'])).toContain(PG_TABLE);
      // Nothing else in the trace, and every span in it.
      expect(spans.map((s) => s.name).sort()).toEqual(['GET /items/:id', 'SELECT test', 'invoke tr.lookup', 'process tr.lookup', 'run tr.lookup']);
      expect(spans.every((s) => s.traceId === traceId)).toBe(true);
      crossed.add(ranOn === `s${entry + 1}` ? 'same server' : 'other server');
    }
    expect([...crossed].sort()).toEqual(['other server', 'same server']);
    expect(receiver.problems).toEqual([]);
  });

  it("continues an Invoke RPC's traceparent on the control plane and records the trace id in the audit log", async () => {
    const cluster = harness!;
    const traceId = hex(16);
    const callerSpan = hex(8);
    const answer = await invokeOnControlPlane(cluster, 'tr.lookup', { id: '2' }, `00-${traceId}-${callerSpan}-01`);
    expect(JSON.parse(answer.outputJson)).toMatchObject({ name: 'desk' });
    const spans = await spansOf(traceId, ['laneway.v1.InvokeService/Invoke', 'invoke tr.lookup', 'process tr.lookup', 'run tr.lookup', 'SELECT test']);
    const rpc = only(spans, 'laneway.v1.InvokeService/Invoke');
    expect(rpc).toMatchObject({ kind: KIND.SERVER, parentSpanId: callerSpan, service: 'laneway-control-plane' });
    expect(rpc.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'laneway.v1.InvokeService', 'rpc.method': 'Invoke', 'rpc.grpc.status_code': 0 });
    const invoke = only(spans, 'invoke tr.lookup');
    expect(invoke).toMatchObject({ kind: KIND.CLIENT, parentSpanId: rpc.spanId, service: 'laneway-control-plane' });
    const job = only(spans, 'process tr.lookup');
    expect(job).toMatchObject({ kind: KIND.CONSUMER, parentSpanId: invoke.spanId, service: 'laneway-server' });
    const thread = only(spans, 'run tr.lookup');
    expect(thread.parentSpanId).toBe(job.spanId);
    expect(only(spans, 'SELECT test').parentSpanId).toBe(thread.spanId);

    // Without a traceparent, the RPC starts a trace of its own, and the audit record names that one.
    const before = new Set(receiver.spans.map((s) => s.traceId));
    await invokeOnControlPlane(cluster, 'tr.lookup', { id: '1' });
    const records = await auditRecords(cluster);
    const invokes = records.filter((r) => r.rpc === 'laneway.v1.InvokeService/Invoke');
    expect(invokes.map((r) => r.traceId)).toContain(traceId);
    const fresh = invokes[0]!;
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(before.has(fresh.traceId)).toBe(false);
    const own = await spansOf(fresh.traceId, ['laneway.v1.InvokeService/Invoke', 'process tr.lookup', 'run tr.lookup']);
    expect(only(own, 'laneway.v1.InvokeService/Invoke').parentSpanId).toBe('');
  });

  it('sends nothing without OTEL_EXPORTER_OTLP_ENDPOINT, not even to the default OTLP address', async () => {
    await harness!.stop();
    harness = undefined;
    // The exporter's default address: a process that loaded the SDK anyway would post there.
    const fallback = new OtlpReceiver();
    const listening = await fallback.start(4318, '127.0.0.1').then(
      () => true,
      () => false,
    );
    const seen = receiver.requests;
    const env = { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'should-not-export' };
    const quiet = await startCluster({ servers: 2, http: true, name: 'lwtrace', env, serverEnv: env });
    try {
      await setUp(quiet);
      const traceId = hex(16);
      for (const server of [0, 1]) {
        const answer = await get(quiet, server, '/items/1', `00-${traceId}-${hex(8)}-01`);
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ name: 'lamp' });
      }
      await invokeOnControlPlane(quiet, 'tr.lookup', { id: '2' }, `00-${traceId}-${hex(8)}-01`);
      // The audit log still reads the trace id from the traceparent metadata.
      expect((await auditRecords(quiet)).find((r) => r.rpc === 'laneway.v1.InvokeService/Invoke')?.traceId).toBe(traceId);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      // A graceful stop: an SDK that held spans would flush them now.
      await quiet.stop();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.requests).toBe(seen);
    if (listening) expect(fallback.requests).toBe(0);
    await fallback.stop();
  });
});
