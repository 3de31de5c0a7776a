import type { ConnectionSpec } from '@laneway/proto';
import type { ConnectionInfo } from './connection-info';

/** What a traced call is: `operation` is a SQL statement's first keyword, an HTTP method, a Redis command or `publish`. */
export interface CallDetail {
  operation: string;
  /** A SQL query as compiled (placeholders, no values); a REST call's path. */
  statement?: string;
  /** An AMQP publish's exchange and routing key. */
  exchange?: string;
  routingKey?: string;
}

/** Ends a traced call: with the error it failed with, or (a REST call) the status it answered. */
export type CallEnd = (error: unknown, status?: number) => void;

/** The kind-specific client behind one version of a connection. */
export interface Backend {
  /** Closes its pool; calls still running on it may fail. */
  close(): Promise<void>;
}

/**
 * One version of one connection: its settings, the lazily created backend, and the calls in flight on
 * it, so a retired version closes only once they have finished.
 */
export class Slot {
  private inflight = 0;
  private backendValue: Backend | undefined;
  private idleWaiters: (() => void)[] = [];
  retired = false;
  /** Told of every call on this version (its duration in seconds, and whether it succeeded): the server's metrics. */
  onCall: ((seconds: number, ok: boolean) => void) | undefined;
  /** Told of every call as it starts, when tracing is on; what it returns is called once the call ends. */
  traceCall: ((call: CallDetail) => CallEnd) | undefined;

  constructor(
    readonly version: string,
    readonly spec: ConnectionSpec,
    readonly info: ConnectionInfo,
  ) {}

  get inFlight(): number {
    return this.inflight;
  }

  get created(): boolean {
    return this.backendValue !== undefined;
  }

  /** The backend, when it was created (no pool is opened to read it). */
  get createdBackend(): Backend | undefined {
    return this.backendValue;
  }

  backend<T extends Backend>(create: () => T): T {
    this.backendValue ??= create();
    return this.backendValue as T;
  }

  enter(): void {
    this.inflight++;
  }

  leave(): void {
    this.inflight--;
    if (this.inflight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves true once no call is in flight, false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }

  async close(): Promise<void> {
    const backend = this.backendValue;
    if (backend) await backend.close();
  }
}
