import type { Metadata } from '@grpc/grpc-js';
import { PermissionDeniedError, UnauthenticatedError } from '../errors';
import { sameSecret, type ClusterStore } from '../store';

/** Who is calling: an operator or automation holding the admin token, or a server of one cluster. */
export type Principal = { kind: 'admin' } | { kind: 'server'; cluster: string };

/**
 * Checks the bearer token of every call: the admin token opens the whole API; a cluster's join token
 * opens only that cluster's sync stream.
 */
export class Authenticator {
  constructor(
    private readonly adminToken: string,
    private readonly store: ClusterStore,
  ) {}

  async authenticate(metadata: Metadata): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    const token = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
    if (!token) {
      throw new UnauthenticatedError(
        'missing credentials: send "authorization: Bearer <token>" (the admin token, or a cluster join token for servers)',
      );
    }
    if (sameSecret(token, this.adminToken)) return { kind: 'admin' };
    const cluster = await this.store.clusterOfJoinToken(token);
    if (cluster !== undefined) return { kind: 'server', cluster };
    throw new UnauthenticatedError('the bearer token is not valid: it is neither the admin token nor a current join token');
  }

  async requireAdmin(metadata: Metadata, method: string): Promise<void> {
    const principal = await this.authenticate(metadata);
    if (principal.kind !== 'admin') {
      throw new PermissionDeniedError(
        `${method} needs the admin token; a join token (cluster '${principal.cluster}') only lets a server sync`,
      );
    }
  }

  /** Admin, or a server of exactly this cluster. */
  async requireCluster(metadata: Metadata, cluster: string): Promise<Principal> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'server' && principal.cluster !== cluster) {
      throw new PermissionDeniedError(
        `the join token belongs to cluster '${principal.cluster}' and cannot be used for cluster '${cluster}'`,
      );
    }
    return principal;
  }
}
