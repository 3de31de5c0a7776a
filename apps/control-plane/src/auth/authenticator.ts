import type { Metadata } from '@grpc/grpc-js';
import { PermissionDeniedError, UnauthenticatedError } from '../errors';
import { auditScope, sameSecret, type ClusterStore, type RoleName } from '../store';
import { tokenSha256, USER_TOKEN_PREFIX } from './passwords';
import { roleAtLeast, ruleOfMethodName, type CallerRule } from './rpc-roles';

/**
 * Who is calling: an operator or automation holding the admin token (an admin), a user with one of
 * their API tokens (the user's role), a server of one cluster (join token), or another site's control
 * plane following one cluster (mirror token).
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'user'; user: string; role: RoleName; tokenId: string }
  | { kind: 'server'; cluster: string }
  | { kind: 'mirror'; cluster: string };

/** The role a principal acts with: the admin token is an admin; join and mirror tokens have none. */
export function roleOfPrincipal(principal: Principal): RoleName | undefined {
  if (principal.kind === 'admin') return 'admin';
  return principal.kind === 'user' ? principal.role : undefined;
}

/** How the audit log names the caller. */
function actorOf(principal: Principal): string {
  if (principal.kind === 'admin') return 'admin';
  if (principal.kind === 'user') return `user:${principal.user}`;
  return `${principal.kind}:${principal.cluster}`;
}

/**
 * Checks the bearer token of every call: the admin token and user tokens open the API as far as their
 * role goes (auth/rpc-roles.ts); a cluster's join token opens only that cluster's sync stream; a mirror
 * token only the mirroring calls of its cluster.
 */
export class Authenticator {
  /** One lookup per call: the role middleware and the handler's own check share it. */
  private readonly known = new WeakMap<Metadata, Promise<Principal>>();

  constructor(
    private readonly adminToken: string,
    private readonly store: ClusterStore,
  ) {}

  async authenticate(metadata: Metadata): Promise<Principal> {
    let found = this.known.get(metadata);
    if (!found) {
      found = this.principalOf(metadata);
      this.known.set(metadata, found);
    }
    const principal = await found;
    // The audit record of the call under way names who made it.
    const scope = auditScope.getStore();
    if (scope) scope.actor = actorOf(principal);
    return principal;
  }

  private async principalOf(metadata: Metadata): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    const token = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
    if (!token) {
      throw new UnauthenticatedError(
        'missing credentials: send "authorization: Bearer <token>" (the admin token or a user API token; a cluster join token for servers)',
      );
    }
    if (sameSecret(token, this.adminToken)) return { kind: 'admin' };
    if (token.startsWith(USER_TOKEN_PREFIX)) return this.userOf(token);
    const cluster = await this.store.clusterOfJoinToken(token);
    if (cluster !== undefined) return { kind: 'server', cluster };
    const mirrored = await this.store.clusterOfMirrorToken(token);
    if (mirrored !== undefined) return { kind: 'mirror', cluster: mirrored };
    throw new UnauthenticatedError('the bearer token is not valid: it is neither the admin token, a user API token, a current join token nor a mirror token');
  }

  /** A user API token, found by its SHA-256 (an index lookup: no comparison of the secret itself). */
  private async userOf(token: string): Promise<Principal> {
    const found = await this.store.tokenBySha256(tokenSha256(token));
    if (!found) throw new UnauthenticatedError('the user API token is not valid: it was never issued, or its user was deleted');
    if (found.revokedAt) {
      throw new UnauthenticatedError(`the API token '${found.id}' (${found.name}) of user '${found.username}' was revoked at ${found.revokedAt}: create a new one`);
    }
    if (found.expiresAt && Date.parse(found.expiresAt) <= Date.now()) {
      throw new UnauthenticatedError(`the API token '${found.id}' (${found.name}) of user '${found.username}' expired at ${found.expiresAt}: sign in again or create a new one`);
    }
    return { kind: 'user', user: found.username, role: found.role, tokenId: found.id };
  }

  /**
   * The caller may make this call by `rule` (see rpc-roles.ts): the role middleware's check, by the
   * RPC's full path. Join and mirror tokens are refused every role-ruled call, as before users.
   */
  async authorize(metadata: Metadata, rule: CallerRule, method: string): Promise<Principal> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'server') {
      throw new PermissionDeniedError(`${method} needs the admin token or a user API token; a join token (cluster '${principal.cluster}') only lets a server sync`);
    }
    if (principal.kind === 'mirror') {
      throw new PermissionDeniedError(
        `${method} needs the admin token or a user API token; a mirror token (cluster '${principal.cluster}') only lets another site follow that cluster`,
      );
    }
    if (rule === 'server' || rule === 'mirror' || rule === 'anyone') return principal;
    const role = roleOfPrincipal(principal)!;
    if (!roleAtLeast(role, rule)) {
      const who = principal.kind === 'user' ? `user '${principal.user}'` : 'the caller';
      throw new PermissionDeniedError(`${method} needs the ${rule} role; ${who} is ${role === 'viewer' ? 'a' : 'an'} ${role}`);
    }
    return principal;
  }

  /**
   * The handlers' own check, by the method's short name: the same table as the role middleware (which
   * has already run for every call it serves), so a handler served without it is no wider open.
   */
  async requireRole(metadata: Metadata, method: string): Promise<void> {
    await this.authorize(metadata, ruleOfMethodName(method), method);
  }

  /**
   * A mirror token of exactly this cluster: the calls of another site's control plane (Pull, HandOver,
   * StepDown). Not the admin token: operators promote and follow through their own site. `clusterOf`
   * reads (and checks) the request's cluster only once the token is known to be a mirror token: a
   * caller who may not call the method at all is refused as such, whatever its request holds.
   */
  async requireMirror(metadata: Metadata, clusterOf: () => string, method: string): Promise<Principal> {
    const principal = await this.authenticate(metadata);
    if (principal.kind === 'server') throw new PermissionDeniedError(`${method} needs a mirror token; a join token only lets a server sync`);
    if (principal.kind === 'admin' || principal.kind === 'user') {
      throw new PermissionDeniedError(`${method} is called by another site's control plane with a mirror token; operators use Follow and Promote on their own site`);
    }
    const cluster = clusterOf();
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
    if (principal.kind === 'user') {
      throw new PermissionDeniedError(`the sync stream is for servers (join token) and the admin token; user '${principal.user}' cannot open it`);
    }
    if (principal.kind === 'server' && principal.cluster !== cluster) {
      throw new PermissionDeniedError(
        `the join token belongs to cluster '${principal.cluster}' and cannot be used for cluster '${cluster}'`,
      );
    }
    return principal;
  }
}
