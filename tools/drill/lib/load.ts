/** One answer the load generator counted as failed: when, what status (0: no HTTP answer), what body. */
export interface Failure {
  at: number;
  status: number;
  detail: string;
}

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Answers per server (from the `drill.who` body). */
  byServer: Record<string, number>;
  failures: Failure[];
}

/**
 * A steady load of channel GETs through HAProxy: `workers` loops, each one request at a time with
 * `ms` of service time, until stopped. Every request is counted as ok (200) or failed (anything else,
 * a connection error or a 10 s timeout included).
 */
export class SteadyLoad {
  private running = true;
  private readonly result: LoadResult = { sent: 0, ok: 0, failed: 0, byServer: {}, failures: [] };
  /** When each failed request was counted: all of them (`failures` keeps only the first 20). */
  readonly failedAt: number[] = [];
  private readonly loops: Promise<void>[];

  constructor(
    private readonly url: string,
    workers = 4,
    private readonly ms = 20,
  ) {
    this.loops = Array.from({ length: workers }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.result.sent++;
      try {
        const response = await fetch(`${this.url}?ms=${this.ms}`, { signal: AbortSignal.timeout(10_000) });
        const text = await response.text();
        if (response.status === 200) {
          this.result.ok++;
          const server = (JSON.parse(text) as { server?: string }).server ?? '?';
          this.result.byServer[server] = (this.result.byServer[server] ?? 0) + 1;
        } else {
          this.fail(response.status, text.slice(0, 200));
        }
      } catch (err) {
        const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
        this.fail(0, `${(err as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
      }
    }
  }

  private fail(status: number, detail: string): void {
    this.result.failed++;
    this.failedAt.push(Date.now());
    if (this.result.failures.length < 20) this.result.failures.push({ at: Date.now(), status, detail });
  }

  /** The counts so far (live). */
  get counts(): Readonly<LoadResult> {
    return this.result;
  }

  async stop(): Promise<LoadResult> {
    this.running = false;
    await Promise.all(this.loops);
    return this.result;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
