/**
 * Where a service runs on a data-plane server.
 *
 * - `network`: on the server's event loop, many invocations at once. For services that mostly wait
 *   on I/O (HTTP, SQL, queues).
 * - `cpu`: in a pool of worker threads (about one per core) at a lower OS priority, so heavy work
 *   (parsing, AI, compression) never delays network-lane services.
 */
export type ServiceLane = 'network' | 'cpu';

/** Every lane, in a stable order. */
export const SERVICE_LANES: readonly ServiceLane[] = Object.freeze(['network', 'cpu']);
