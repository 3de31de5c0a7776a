import { status } from '@grpc/grpc-js';
import { WHO_SERVICE } from './services';
import { sleep } from './load';
import { grpcError, type Site } from './sites';

export interface Write {
  name: string;
  site: string;
  startedAt: number;
  endedAt: number;
  /** The revision the site committed it at (acknowledged writes). */
  revision?: number;
  code?: number;
  details?: string;
}

/**
 * A steady stream of writes (CreateChannel `wN` for the `who` service) to a site. Each write is
 * acknowledged, refused with FAILED_PRECONDITION, or anything else ("other": a write whose fate the
 * caller does not know, which a drill counts as failed). With `followRefusals`, a refused write sends
 * the next one to the other site (what a client does that reads "read-only follower of … at ADDR"),
 * so the time from the first refusal to the next acknowledgement is the handover window.
 */
export class Writer {
  readonly acked: Write[] = [];
  readonly refused: Write[] = [];
  readonly other: Write[] = [];
  /** Each run of refusals ended by an acknowledgement: ms from the first refusal's start to that ack. */
  readonly windows: number[] = [];
  private running = true;
  private target = 0;
  private n = 0;
  private refusingSince: number | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly sites: Site[],
    private readonly options: { followRefusals?: boolean; pauseMs?: number; prefix?: string } = {},
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const site = this.sites[this.target]!;
      const name = `${this.options.prefix ?? 'w'}${++this.n}`;
      const startedAt = Date.now();
      try {
        const done = await site.api.putChannel(site.cluster, { name, method: 'GET', path: `/${name}`, service: WHO_SERVICE });
        const endedAt = Date.now();
        this.acked.push({ name, site: site.name, startedAt, endedAt, revision: Number(done.revision) });
        if (this.refusingSince !== undefined) this.windows.push(endedAt - this.refusingSince);
        this.refusingSince = undefined;
      } catch (err) {
        const e = grpcError(err);
        const write = { name, site: site.name, startedAt, endedAt: Date.now(), code: e.code, details: e.details };
        if (e.code === status.FAILED_PRECONDITION) {
          this.refused.push(write);
          this.refusingSince ??= startedAt;
          if (this.options.followRefusals) this.target = (this.target + 1) % this.sites.length;
        } else {
          this.other.push(write);
        }
      }
      await sleep(this.options.pauseMs ?? 20);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
