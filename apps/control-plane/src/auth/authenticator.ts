import type { Metadata } from '@grpc/grpc-js';
import { PermissionDeniedError, UnauthenticatedError } from '../errors';
import { auditScope, sameSecret, type ClusterStore } from '../store';

/**
 * Who is calling: an operator or automation holding the admin token, a server of one cluster (join
 * token), or another site's control plane following one cluster (mirror token).
 */
export type Principal = { kind: 'admin' } | { kind: 'server'; cluster: string } | { kind: 'mirror'; cluster: string };

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
    const principal = await this.principalOf(metadata);
    // The audit record of the call under way names who made it.
    const scope = auditScope.getStore();
    if (scope) scope.actor = principal.kind === 'admin' ? 'admin' : `${principal.kind}:${principal.cluster}`;
    return principal;
  }

  private async principalOf(metadata: Metadata): Promise<Principal> {
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
    const mirrored = await this.store.clusterOfMirrorToken(token);
    if (mirrored !== undefined) return { kind: 'mirror', cluster: mirrored };
    throw new UnauthenticatedError('the bearer token is not valid: it is neither the admin token, a current join token nor a mirror token');
  }

  async requireAdmin(metadata: Metadata, method: string): Promise<void> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'server') {
      throw new PermissionDeniedError(
        `${method} needs the admin token; a join token (cluster '${principal.cluster}') only lets a server sync`,
      );
    }
    if (principal.kind === 'mirror') {
      throw new PermissionDeniedError(`${method} needs the admin token; a mirror token (cluster '${principal.cluster}') only lets another site follow that cluster`);
    }
  }

  /**
   * A mirror token of exactly this cluster: the calls of another site's control plane (Pull, HandOver,
   * StepDown). Not the admin token: operators promote and follow through their own site.
   */
  async requireMirror(metadata: Metadata, cluster: string, method: string): Promise<Principal> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'server') throw new PermissionDeniedError(`${method} needs a mirror token; a join token only lets a server sync`);
    if (principal.kind === 'admin') {
      throw new PermissionDeniedError(`${method} is called by another site's control plane with a mirror token; operators use Follow and Promote on their own site`);
    }
    if (principal.cluster !== cluster) {
      throw new PermissionDeniedError(`the mirror token reads cluster '${principal.cluster}' and cannot be used for cluster '${cluster}'`);
    }
    return principal;
  }

  /** Admin, or a server of exactly this cluster. */
  async requireCluster(metadata: Metadata, cluster: string): Promise<Principal> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'mirror') {
      throw new PermissionDeniedError(`a mirror token (cluster '${principal.cluster}') only lets another site follow that cluster: servers join with the join token`);
    }
    if (principal.kind === 'server' && principal.cluster !== cluster) {
      throw new PermissionDeniedError(
        `the join token belongs to cluster '${principal.cluster}' and cannot be used for cluster '${cluster}'`,
      );
    }
    return principal;
  }
}
