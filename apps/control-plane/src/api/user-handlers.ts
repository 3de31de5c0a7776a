import { randomBytes } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { Role, type ApiToken, type User, type UserServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import { roleOfPrincipal, type Authenticator, type Principal } from '../auth/authenticator';
import type { LoginLimiter } from '../auth/login-limiter';
import { peerAddress } from '../auth/login-limiter';
import { decoyHash, hashPassword, MAX_PASSWORD_CHARACTERS, MIN_PASSWORD_CHARACTERS, newUserToken, tokenSha256, verifyPassword } from '../auth/passwords';
import type { RequestChecks } from '../checks/request-checks';
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from '../errors';
import { auditScope, type ApiTokenRecord, type ClusterStore, type RoleName, type UserRecord } from '../store';
import { unary } from './grpc-errors';

/** How long a Login token lasts. */
export const LOGIN_TOKEN_TTL_MS = 60 * 60 * 1000;
/** The longest a created token may live (ttl_seconds): ten years. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const TO_PROTO: Record<RoleName, Role> = { viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN };

export function roleToProto(role: RoleName): Role {
  return TO_PROTO[role];
}

function roleFromProto(field: string, role: Role): RoleName {
  const found = (Object.keys(TO_PROTO) as RoleName[]).find((name) => TO_PROTO[name] === role);
  if (!found) throw new InvalidArgumentError(field, `${field} is not set: give ROLE_VIEWER, ROLE_OPERATOR or ROLE_ADMIN`);
  return found;
}

function toUser(user: UserRecord): User {
  return { username: user.username, role: roleToProto(user.role), createdAt: user.createdAt, updatedAt: user.updatedAt };
}

function toToken(token: ApiTokenRecord): ApiToken {
  return { ...token };
}

/**
 * UserService. Who may call each RPC is the role table's (auth/rpc-roles.ts, enforced by the role
 * middleware); on top of it, SetPassword, CreateToken, ListTokens and RevokeToken let a non-admin act
 * only on their own account.
 */
export function userHandlers(
  store: ClusterStore,
  auth: Authenticator,
  limiter: LoginLimiter,
  check: RequestChecks,
  log: Logger,
  authorize: (metadata: Metadata, method: string) => Promise<void>,
): UserServiceServer {
  const username = (field: string, value: string): string => {
    check.name(field, value, 'give a username');
    if (!USERNAME.test(value)) {
      throw new InvalidArgumentError(field, `${field} '${value}' is not a username: letters, digits, '.', '_', '@' and '-', starting with a letter or digit, at most 64`);
    }
    return value;
  };
  const password = (value: string): string => {
    if (value.length < MIN_PASSWORD_CHARACTERS) throw new InvalidArgumentError('password', `the password is shorter than ${MIN_PASSWORD_CHARACTERS} characters`);
    if (value.length > MAX_PASSWORD_CHARACTERS) throw new InvalidArgumentError('password', `the password is longer than ${MAX_PASSWORD_CHARACTERS} characters`);
    return value;
  };
  const isAdmin = (principal: Principal): boolean => roleOfPrincipal(principal) === 'admin';
  /** The account a call acts on: the named one (only an admin may name another user), else the caller's own. */
  const account = async (metadata: Metadata, named: string, method: string): Promise<string> => {
    const principal = await auth.authenticate(metadata);
    if (named) {
      const name = username('username', named);
      if (principal.kind === 'user' && principal.user === name) return name;
      if (!isAdmin(principal)) throw new PermissionDeniedError(`${method} for another user ('${name}') needs the admin role`);
      return name;
    }
    if (principal.kind === 'user') return principal.user;
    throw new InvalidArgumentError('username', `username is empty: with the admin token, ${method} names the user`);
  };
  const issue = async (owner: string, name: string, ttlMs: number | undefined) => {
    const token = newUserToken();
    const info = await store.createToken({
      id: randomBytes(8).toString('hex'),
      username: owner,
      name,
      tokenSha256: tokenSha256(token),
      expiresAt: ttlMs === undefined ? undefined : new Date(Date.now() + ttlMs).toISOString(),
    });
    return { token, info };
  };

  return {
    createUser: unary('CreateUser', log, authorize, async (req) =>
      toUser(await store.createUser(username('username', req.username), await hashPassword(password(req.password)), roleFromProto('role', req.role))),
    ),
    listUsers: unary('ListUsers', log, authorize, async () => ({ users: (await store.listUsers()).map(toUser) })),
    deleteUser: unary('DeleteUser', log, authorize, async (req) => {
      await store.deleteUser(username('username', req.username));
      return {};
    }),
    setPassword: unary('SetPassword', log, authorize, async (req, call) => {
      const name = await account(call.metadata, req.username, 'SetPassword');
      await store.setPassword(name, await hashPassword(password(req.password)));
      return {};
    }),
    setRole: unary('SetRole', log, authorize, async (req) => toUser(await store.setRole(username('username', req.username), roleFromProto('role', req.role)))),
    createToken: unary('CreateToken', log, authorize, async (req, call) => {
      const owner = await account(call.metadata, req.username, 'CreateToken');
      const name = check.name('name', req.name, 'give the token a name (what uses it, e.g. ci)');
      if (req.ttlSeconds > MAX_TTL_SECONDS) throw new InvalidArgumentError('ttl_seconds', `ttl_seconds ${req.ttlSeconds} is above ${MAX_TTL_SECONDS} (ten years): give 0 for no expiry`);
      const { token, info } = await issue(owner, name, req.ttlSeconds > 0 ? req.ttlSeconds * 1000 : undefined);
      return { info: toToken(info), token };
    }),
    listTokens: unary('ListTokens', log, authorize, async (req, call) => {
      const principal = await auth.authenticate(call.metadata);
      // The admin token with no username: every user's tokens.
      const owner = !req.username && principal.kind !== 'user' ? undefined : await account(call.metadata, req.username, 'ListTokens');
      return { tokens: (await store.listTokens(owner)).map(toToken) };
    }),
    revokeToken: unary('RevokeToken', log, authorize, async (req, call) => {
      const id = check.name('id', req.id, 'give the id ListTokens shows');
      const principal = await auth.authenticate(call.metadata);
      const token = await store.getToken(id);
      // Another user's token is "not found" to a non-admin: ids reveal nothing of other accounts.
      if (!token || (!isAdmin(principal) && !(principal.kind === 'user' && principal.user === token.username))) {
        throw new NotFoundError('token', id, `there is no API token '${id}' of yours (see ListTokens)`);
      }
      await store.revokeToken(id);
      return {};
    }),
    login: unary(
      'Login',
      log,
      async () => undefined,
      async (req, call) => {
        const name = username('username', req.username);
        if (!req.password) throw new InvalidArgumentError('password', 'password is empty');
        if (req.password.length > MAX_PASSWORD_CHARACTERS) throw new InvalidArgumentError('password', `the password is longer than ${MAX_PASSWORD_CHARACTERS} characters`);
        const address = peerAddress(call.getPeer());
        limiter.check(name, address);
        const user = await store.userWithPassword(name);
        // An unknown user costs the same scrypt as a wrong password: the time tells nothing.
        const matches = await verifyPassword(req.password, user?.passwordHash ?? (await decoyHash()));
        if (!user || !matches) {
          limiter.fail(name, address);
          throw new UnauthenticatedError('wrong username or password');
        }
        limiter.succeed(name);
        const scope = auditScope.getStore();
        if (scope) scope.actor = `user:${name}`;
        // Old sign-in tokens go: a day after they expired.
        await store.pruneExpiredTokens(name, new Date(Date.now() - 24 * 3600 * 1000).toISOString());
        const { token, info } = await issue(name, 'login', LOGIN_TOKEN_TTL_MS);
        return { token, expiresAt: info.expiresAt, user: toUser(user) };
      },
    ),
  };
}
