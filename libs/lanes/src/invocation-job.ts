import type { HttpRequestInfo, InvocationErrorCode } from '@laneway/sdk';

/** The data of every job on a lane queue. Short keys: this is serialised once per invocation. */
export interface InvocationJob {
  /** Service name. */
  s: string;
  /** Input value (JSON). */
  i: unknown;
  /** Reply channel; absent for async invocations. */
  r?: string;
  /** Correlation id, unique per caller process; present with `r`. */
  c?: string;
  /** Epoch ms after which nobody waits for the output: the server skips the job. */
  d?: number;
  /** Id of the invocation, for logs and `ctx.invocationId`. */
  id: string;
  /** The HTTP request of an invocation that came through a REST channel (`ctx.http`). */
  h?: HttpRequestInfo;
  /** The schedule that fired this job: the server records its run, and keeps runs apart when told to. */
  sch?: ScheduleMark;
  /** The W3C traceparent of the span that queued the job, when tracing is on (see tracing.ts). */
  tp?: string;
}

/** What a schedule's jobs carry (see {@link InvocationJob.sch}). */
export interface ScheduleMark {
  /** The schedule's name. */
  name: string;
  /** `skip`: a tick that finds the previous run still going completes at once as a skipped run. */
  overlap: 'skip' | 'allow';
  /** Set on a RunScheduleNow job. */
  manual?: boolean;
}

/** What a server publishes on a job's reply channel. */
export type InvocationReply =
  | { c: string; ok: true; o: unknown; srv: string; v: string }
  | { c: string; ok: false; e: InvocationFailure; srv: string; v?: string };

/** Why an invocation failed, as a reply (and a worker) carries it. */
export interface InvocationFailure {
  code: InvocationErrorCode;
  message: string;
  /** Set when the service said that running it again cannot succeed: an async job then fails at once, without retries. */
  retryable?: false;
}

/** The outcome of a sync invocation, as the caller sees it. */
export interface InvocationResult<TOutput = unknown> {
  output: TOutput;
  /** The server replica that ran the service. */
  server: string;
  /** The version of the service that ran. */
  version: string;
}
