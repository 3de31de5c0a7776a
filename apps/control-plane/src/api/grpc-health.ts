import { status, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as Serving,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '@laneway/proto';
import type { Logger } from 'pino';

export interface GrpcHealthOptions {
  /** Probes the store; rejects (or outlives `timeoutMs`) while it is unreachable. */
  probe: () => Promise<unknown>;
  /** The fully qualified names of the services this server serves (`laneway.v1.DeployService`, ...). */
  services: readonly string[];
  logger: Logger;
  /** How often the store is probed (default 2 s); a Check finding the last probe older runs one first. */
  intervalMs?: number;
  /** A probe taking longer counts as a failure (default 1 s). */
  timeoutMs?: number;
}

/** The gRPC service name of a ts-proto service definition, from its first method's path. */
export function serviceName(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('a gRPC service definition without methods');
  return first.path.split('/')[1] ?? '';
}

/**
 * The standard grpc.health.v1.Health: every served service and the server as a whole ("") are SERVING
 * while the store answers and NOT_SERVING while it does not (nothing this control plane does works
 * without it). Probes carry no token, so these handlers check none.
 */
export class GrpcHealth {
  private readonly known: Set<string>;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private current = Serving.SERVING;
  private checkedAt = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<{
    service: string;
    call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
  }>();

  constructor(private readonly opts: GrpcHealthOptions) {
    this.known = new Set(['', ...opts.services]);
    this.intervalMs = opts.intervalMs ?? 2000;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.log = opts.logger;
  }

  /** Starts probing the store on a timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    void this.probeNow();
    this.timer = setInterval(() => void this.probeNow(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops probing and ends every Watch stream, so that the server's graceful shutdown is not held up by them. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const { call } of this.watchers) call.end();
    this.watchers.clear();
  }

  statusOf(service: string): Serving {
    return this.known.has(service) ? this.current : Serving.SERVICE_UNKNOWN;
  }

  readonly handlers: HealthServer = {
    check: (call, callback) => {
      const service = call.request.service;
      if (!this.known.has(service)) {
        callback({
          code: status.NOT_FOUND,
          details: `unknown service '${service}': this server serves ${[...this.known].filter(Boolean).join(', ')}`,
        });
        return;
      }
      const stale = Date.now() - this.checkedAt > this.intervalMs;
      void (stale ? this.probeNow() : Promise.resolve()).then(() =>
        callback(null, { status: this.statusOf(service) }),
      );
    },
    watch: (call) => {
      const watcher = { service: call.request.service, call };
      this.watchers.add(watcher);
      call.on('cancelled', () => this.watchers.delete(watcher));
      call.write({ status: this.statusOf(watcher.service) });
    },
    list: (_call, callback) => {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const service of this.known) statuses[service] = { status: this.current };
      callback(null, { statuses });
    },
  };

  /** One probe at a time: a Check arriving while one runs waits for it. */
  private probeNow(): Promise<void> {
    this.inFlight ??= this.probeOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async probeOnce(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the store did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    let next: Serving;
    let error: string | undefined;
    try {
      await Promise.race([this.opts.probe(), timeout]);
      next = Serving.SERVING;
    } catch (err) {
      next = Serving.NOT_SERVING;
      error = (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
    this.checkedAt = Date.now();
    if (next === this.current) return;
    this.current = next;
    if (next === Serving.SERVING) this.log.info({}, 'store reachable again: health SERVING');
    else this.log.warn({ err: error }, 'store unreachable: health NOT_SERVING');
    for (const { service, call } of this.watchers) {
      if (this.known.has(service)) call.write({ status: next });
    }
  }
}
