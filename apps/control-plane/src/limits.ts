import type { DeployLimits } from './deploy/validate-upload';
import { LimitExceededError } from './errors';

/**
 * Bounds on what one API call may carry. Each comes from its environment variable (LIMIT_VARIABLES,
 * read by loadConfig); a request over one is answered RESOURCE_EXHAUSTED with a message naming the
 * variable, its value and what the request carried. The defaults sit well above anything a real
 * deploy or call sends (the deploy bench sends 10,000 small files in one Deploy).
 */
export interface Limits extends DeployLimits {
  /** LANEWAY_MAX_INVOKE_INPUT_BYTES, default 1 MiB (1048576): UTF-8 bytes of input_json of Invoke and InvokeAsync. */
  maxInvokeInputBytes: number;
  /**
   * LANEWAY_MAX_INVOKE_INPUT_DEPTH, default 256: nesting of arrays and objects in input_json. Deeper
   * input parses, but JSON.stringify overflows the stack at about 4,000 levels (queueing it fails).
   */
  maxInvokeInputDepth: number;
  /**
   * LANEWAY_MAX_NAME_LENGTH, default 200: characters of a name in a request (cluster, service, server),
   * of a version and of a job id. Cluster names are further held to 63 characters when created.
   */
  maxNameLength: number;
  /** LANEWAY_MAX_TIMEOUT_MS, default 900000 (15 minutes): timeout_ms of Invoke, Deploy, Undeploy and Rollback. */
  maxTimeoutMs: number;
  /** LANEWAY_MAX_LIST_LIMIT, default 10000: `limit` of ListFailedJobs. */
  maxListLimit: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxDeployFiles: 10_000,
  maxFileBytes: 4 * MiB,
  maxDeployBytes: 64 * MiB,
  maxPathLength: 1024,
  maxInvokeInputBytes: 1 * MiB,
  maxInvokeInputDepth: 256,
  maxNameLength: 200,
  maxTimeoutMs: 15 * 60_000,
  maxListLimit: 10_000,
});

/** The environment variable of each limit. */
export const LIMIT_VARIABLES = {
  maxDeployFiles: 'LANEWAY_MAX_DEPLOY_FILES',
  maxFileBytes: 'LANEWAY_MAX_FILE_BYTES',
  maxDeployBytes: 'LANEWAY_MAX_DEPLOY_BYTES',
  maxPathLength: 'LANEWAY_MAX_PATH_LENGTH',
  maxInvokeInputBytes: 'LANEWAY_MAX_INVOKE_INPUT_BYTES',
  maxInvokeInputDepth: 'LANEWAY_MAX_INVOKE_INPUT_DEPTH',
  maxNameLength: 'LANEWAY_MAX_NAME_LENGTH',
  maxTimeoutMs: 'LANEWAY_MAX_TIMEOUT_MS',
  maxListLimit: 'LANEWAY_MAX_LIST_LIMIT',
} as const satisfies Record<keyof Limits, string>;

/**
 * Throws LimitExceededError when `actual` is above the limit `key`. `what` says what the request
 * carried ("files[3] 'a.ts' is 5000000 bytes"), `advice` what the caller can do instead.
 */
export function checkLimit<K extends keyof Limits>(
  limits: Readonly<Pick<Limits, K>>,
  key: K,
  field: string,
  actual: number,
  what: string,
  advice: string,
): void {
  const max = limits[key];
  if (actual <= max) return;
  const variable = LIMIT_VARIABLES[key];
  throw new LimitExceededError(
    field,
    variable,
    max,
    actual,
    `${what}; the limit is ${variable}=${max}: ${advice}, or raise ${variable} on the control plane`,
  );
}

// Protobuf framing of one SourceFile in a DeployRequest beyond its path and content: tags, lengths.
const FILE_FRAMING_BYTES = 16;

/**
 * gRPC's own bound on one received message: the largest request within the limits (a deploy of
 * maxDeployFiles files with paths of maxPathLength characters, 3 UTF-8 bytes each at most, and
 * maxDeployBytes of content; or an invoke input), plus 1 MiB for everything else. A request within
 * it gets our message naming the limit it broke; a larger one gets gRPC's RESOURCE_EXHAUSTED.
 */
export function maxReceiveMessageBytes(limits: Readonly<Limits>): number {
  const deploy =
    limits.maxDeployBytes + limits.maxDeployFiles * (3 * limits.maxPathLength + FILE_FRAMING_BYTES);
  return Math.min(Math.max(deploy, limits.maxInvokeInputBytes) + MiB, 2 ** 31 - 1);
}
