import pg from 'pg';
import type { Logger } from 'pino';

/** The PostgreSQL channel on which control planes sharing a database announce committed changes. */
export const CHANGE_CHANNEL = 'laneway_changes';

/** The payload of one notice (short keys: PostgreSQL caps a payload at 8,000 bytes). */
export interface ChangeNotice {
  /** Cluster name. */
  c: string;
  /** A server whose drain state changed; empty for a change of the cluster's services. */
  s: string;
  /** The announcing store's instance id. */
  o: string;
}

export interface ChangeHandlers {
  /** Another control plane committed a change to `cluster` (to `server`'s drain state when given). */
  change(cluster: string, server: string | undefined): void;
  /** The feed was interrupted: notices may have been missed, so everything must be checked again. */
  resync(): void;
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

/**
 * Listens on a dedicated PostgreSQL connection for the changes other control planes commit (`LISTEN`),
 * so that a deploy made through one control plane reaches the servers connected to another at once.
 * Notices from this process's own store are skipped. Reconnects on its own, and asks for a resync after
 * every reconnect, since notices sent meanwhile are lost.
 */
export class ChangeFeed {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = MIN_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly ownInstanceId: string,
    private readonly handlers: ChangeHandlers,
    private readonly log: Logger,
  ) {}

  /** Resolves once listening; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => this.onNotice(message.payload));
    // 'error' then 'end': the reconnect is scheduled once, on 'end'.
    client.on('error', (err) => this.log.warn({ err: err.message }, 'change feed connection failed'));
    client.on('end', () => {
      if (this.client === client) this.client = undefined;
      if (!this.stopped) this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    this.client = client;
    this.retryMs = MIN_RETRY_MS;
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.log.info({}, 'change feed reconnected; checking every server again');
          this.handlers.resync();
        },
        (err: unknown) => {
          this.log.warn({ err: (err as Error).message, retryInMs: this.retryMs }, 'change feed reconnect failed');
          this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
          if (!this.stopped) this.scheduleReconnect();
        },
      );
    }, this.retryMs);
  }

  private onNotice(payload: string | undefined): void {
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(payload ?? '') as ChangeNotice;
    } catch {
      this.log.warn({ payload }, 'ignored a change notice that is not JSON');
      return;
    }
    if (notice.o === this.ownInstanceId || typeof notice.c !== 'string') return;
    this.handlers.change(notice.c, notice.s || undefined);
  }
}
