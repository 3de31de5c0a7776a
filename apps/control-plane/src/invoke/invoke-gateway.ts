import { tracing, type AsyncJobInfo, type LaneClient, type Tracing } from '@laneway/lanes';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, shownValue, UnavailableError } from '../errors';
import type { ClusterStore, ServiceRecord } from '../store';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_LIST_LIMIT = 100;

/**
 * Invoke / InvokeAsync: finds the service's lane in the store and queues the call on it. The API has
 * checked the request against the configured limits (timeout, input size and depth, list limit) already.
 * While Redis is unreachable every call here is refused at once with UNAVAILABLE (its commands would
 * otherwise wait for Redis to come back, past any caller's patience, and an async call would be
 * queued later without its caller knowing).
 */
export class InvokeGateway {
  constructor(
    private readonly store: ClusterStore,
    private readonly lanes: LaneClient,
    /** The variable that chose Laneway's Redis (REDIS_URL, LANEWAY_REDIS_CLUSTER, LANEWAY_REDIS_SENTINELS), for the UNAVAILABLE message. */
    private readonly redisVariable = 'REDIS_URL',
  ) {}

  async invoke(
    cluster: string,
    service: string,
    inputJson: string,
    timeoutMs: number,
  ): Promise<{ outputJson: string; server: string; version: string }> {
    const input = parseInput(inputJson);
    const record = await this.find(cluster, service);
    this.requireRedis();
    const timeout = timeoutMs || record.policy.timeoutMs || DEFAULT_TIMEOUT_MS;
    const t = tracing();
    const result = await (t
      ? traced(t, `invoke ${service}`, false, (traceparent) => this.lanes.invoke({ cluster, lane: record.lane, service, input, timeoutMs: timeout, traceparent }))
      : this.lanes.invoke({ cluster, lane: record.lane, service, input, timeoutMs: timeout }));
    return { outputJson: JSON.stringify(result.output ?? null), server: result.server, version: result.version };
  }

  async invokeAsync(cluster: string, service: string, inputJson: string): Promise<string> {
    const input = parseInput(inputJson);
    const record = await this.find(cluster, service);
    this.requireRedis();
    const attempts = record.policy.attempts || undefined;
    const t = tracing();
    if (t) return traced(t, `invokeAsync ${service}`, true, (traceparent) => this.lanes.invokeAsync({ cluster, lane: record.lane, service, input, attempts, traceparent }));
    return this.lanes.invokeAsync({ cluster, lane: record.lane, service, input, attempts });
  }

  async getJob(cluster: string, jobId: string): Promise<AsyncJobInfo> {
    if (!jobId) throw new InvalidArgumentError('job_id', 'job_id is empty');
    await this.store.getCluster(cluster);
    this.requireRedis();
    const job = await this.lanes.getJob(cluster, jobId);
    if (!job) throw new NotFoundError('job', jobId, `job '${jobId}' does not exist in cluster '${cluster}' (completed jobs are kept for an hour)`);
    return job;
  }

  async listFailedJobs(cluster: string, service: string, limit: number): Promise<AsyncJobInfo[]> {
    await this.store.getCluster(cluster);
    this.requireRedis();
    return this.lanes.listFailed(cluster, { service: service || undefined, limit: limit || DEFAULT_LIST_LIMIT });
  }

  /**
   * One page of failed jobs (ListFailedJobs with page_size). The token is opaque to callers: each
   * lane's position in its failed set, base64url JSON, so a page costs the same at job 100,000 as at 1.
   */
  async listFailedJobsPage(cluster: string, service: string, pageSize: number, pageToken: string): Promise<{ jobs: AsyncJobInfo[]; nextPageToken: string }> {
    const from = decodeFailedToken(pageToken);
    await this.store.getCluster(cluster);
    this.requireRedis();
    const { jobs, next } = await this.lanes.listFailedPage(cluster, { service: service || undefined, pageSize, from });
    return { jobs, nextPageToken: next ? Buffer.from(JSON.stringify({ n: next.network, c: next.cpu })).toString('base64url') : '' };
  }

  async retryJob(cluster: string, jobId: string): Promise<AsyncJobInfo> {
    const job = await this.getJob(cluster, jobId);
    if (job.state !== 'failed') {
      throw new FailedPreconditionError(`job '${jobId}' is ${job.state}, not failed: only failed jobs can be retried`);
    }
    return (await this.lanes.retryFailed(cluster, jobId))!;
  }

  private requireRedis(): void {
    if (!this.lanes.connected) {
      throw new UnavailableError(`Redis (${this.redisVariable}) is unreachable from the control plane: nothing was queued or read; retry once it is back`);
    }
  }

  private async find(cluster: string, service: string): Promise<ServiceRecord> {
    if (!service) throw new InvalidArgumentError('service', 'service is empty: give the name of the service to invoke');
    const record = await this.store.getService(cluster, service);
    if (!record) {
      throw new NotFoundError('service', service, `service '${service}' is not deployed in cluster '${cluster}'`);
    }
    return record;
  }
}

function decodeFailedToken(token: string): { network: number; cpu: number } | undefined {
  if (!token) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const p = parsed as { n?: unknown; c?: unknown } | undefined;
  const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!p || !ok(p.n) || !ok(p.c)) {
    throw new InvalidArgumentError('page_token', `page_token ${shownValue(token)} is not a token this API gave: pass the next_page_token of the previous page, or none for the first`);
  }
  return { network: p.n, cpu: p.c };
}

function parseInput(inputJson: string): unknown {
  if (inputJson === '') return null;
  try {
    return JSON.parse(inputJson) as unknown;
  } catch (err) {
    throw new InvalidArgumentError('input_json', `input_json ${shownValue(inputJson)} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * With tracing on: the call to the lane as a span (CLIENT for Invoke, PRODUCER for InvokeAsync), child
 * of the RPC's; its traceparent goes in the job, so the run on a server continues this trace.
 */
async function traced<T>(t: Tracing, name: string, async: boolean, call: (traceparent: string | undefined) => Promise<T>): Promise<T> {
  const { api } = t;
  const span = t.tracer.startSpan(name, { kind: async ? api.SpanKind.PRODUCER : api.SpanKind.CLIENT, attributes: { 'laneway.service': name.slice(name.indexOf(' ') + 1) } });
  try {
    return await call(t.traceparent(api.trace.setSpan(api.context.active(), span)));
  } catch (err) {
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
    throw err;
  } finally {
    span.end();
  }
}
