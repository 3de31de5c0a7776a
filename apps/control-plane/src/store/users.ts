import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from '../errors';
import type { StoreContext } from './revision';

// Users of the API and their tokens (migration 0010). Passwords arrive here already hashed
// (auth/passwords.ts) and tokens as their SHA-256: neither is ever stored or read back in the clear.

export type RoleName = 'viewer' | 'operator' | 'admin';

export interface UserRecord {
  username: string;
  role: RoleName;
  createdAt: string;
  updatedAt: string;
}

export interface UserWithPassword extends UserRecord {
  passwordHash: string;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  username: string;
  createdAt: string;
  /** ISO-8601 UTC, or '' when not set. */
  expiresAt: string;
  revokedAt: string;
  lastUsedAt: string;
}

/** A token found by its hash, with what the authenticator needs of its owner. */
export interface TokenOwner extends ApiTokenRecord {
  role: RoleName;
}

/** How often a token's last use is written: at most once a minute, not on every call. */
const LAST_USED_EVERY_MS = 60_000;

const ROLES: readonly RoleName[] = ['viewer', 'operator', 'admin'];

function roleOf(text: string): RoleName {
  // An unknown role in the database (a newer version's?) grants the least.
  return (ROLES as readonly string[]).includes(text) ? (text as RoleName) : 'viewer';
}

const USER_COLUMNS = ['username', 'role', 'created_at', 'updated_at', 'password_hash'] as const;

function toUser(row: { username: string; role: string; created_at: string; updated_at: string }): UserRecord {
  return { username: row.username, role: roleOf(row.role), createdAt: row.created_at, updatedAt: row.updated_at };
}

function toToken(row: {
  id: string;
  name: string;
  username: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    username: row.username,
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? '',
    revokedAt: row.revoked_at ?? '',
    lastUsedAt: row.last_used_at ?? '',
  };
}

function missingUser(username: string): NotFoundError {
  return new NotFoundError('user', username, `there is no user '${username}' (see ListUsers)`);
}

/**
 * Creates the user unless one of that name exists (then does nothing): the first start's `admin`, safe
 * when two control planes sharing one PostgreSQL start at once. True when this call created it.
 */
export async function ensureUser(ctx: StoreContext, username: string, passwordHash: string, role: RoleName): Promise<boolean> {
  const now = new Date().toISOString();
  const rows = await ctx.db
    .insertInto('users')
    .values({ username, password_hash: passwordHash, role, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('username').doNothing())
    .returning('id')
    .execute();
  return rows.length > 0;
}

export async function userExists(ctx: StoreContext, username: string): Promise<boolean> {
  return (await ctx.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) !== undefined;
}

export async function createUser(ctx: StoreContext, username: string, passwordHash: string, role: RoleName): Promise<UserRecord> {
  const now = new Date().toISOString();
  const row = await ctx.db
    .insertInto('users')
    .values({ username, password_hash: passwordHash, role, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('username').doNothing())
    .returning(USER_COLUMNS)
    .executeTakeFirst();
  if (!row) throw new AlreadyExistsError('user', username, `user '${username}' already exists: pick another name, or SetPassword/SetRole to change it`);
  return toUser(row);
}

export async function listUsers(ctx: StoreContext): Promise<UserRecord[]> {
  const rows = await ctx.db.selectFrom('users').select(USER_COLUMNS).orderBy('username').execute();
  return rows.map(toUser);
}

/** The user with the password hash, for Login; undefined when there is none. */
export async function userWithPassword(ctx: StoreContext, username: string): Promise<UserWithPassword | undefined> {
  const row = await ctx.db.selectFrom('users').select(USER_COLUMNS).where('username', '=', username).executeTakeFirst();
  return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
}

/** Refuses to leave no admin user (the admin token still works, but no one could sign in as an admin). */
async function keepAnAdmin(ctx: StoreContext, username: string, what: string): Promise<void> {
  const admins = await ctx.db.selectFrom('users').select('username').where('role', '=', 'admin').execute();
  if (admins.length === 1 && admins[0]!.username === username) {
    throw new FailedPreconditionError(`'${username}' is the last admin user and cannot be ${what}: make another user admin first`);
  }
}

export async function deleteUser(ctx: StoreContext, username: string): Promise<void> {
  const row = await ctx.db.selectFrom('users').select(['id', 'role']).where('username', '=', username).executeTakeFirst();
  if (!row) throw missingUser(username);
  if (row.role === 'admin') await keepAnAdmin(ctx, username, 'deleted');
  // Its tokens go with it (ON DELETE CASCADE; deleted explicitly too, whatever the foreign-key setting).
  await ctx.db.deleteFrom('api_tokens').where('user_id', '=', row.id).execute();
  await ctx.db.deleteFrom('users').where('id', '=', row.id).execute();
}

export async function setPassword(ctx: StoreContext, username: string, passwordHash: string): Promise<void> {
  const result = await ctx.db
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: new Date().toISOString() })
    .where('username', '=', username)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw missingUser(username);
}

export async function setRole(ctx: StoreContext, username: string, role: RoleName): Promise<UserRecord> {
  if (role !== 'admin') await keepAnAdmin(ctx, username, 'demoted');
  const row = await ctx.db
    .updateTable('users')
    .set({ role, updated_at: new Date().toISOString() })
    .where('username', '=', username)
    .returning(USER_COLUMNS)
    .executeTakeFirst();
  if (!row) throw missingUser(username);
  return toUser(row);
}

export interface NewToken {
  id: string;
  username: string;
  name: string;
  tokenSha256: string;
  /** ISO-8601 UTC, or undefined: never expires. */
  expiresAt: string | undefined;
}

export async function createToken(ctx: StoreContext, token: NewToken): Promise<ApiTokenRecord> {
  const user = await ctx.db.selectFrom('users').select('id').where('username', '=', token.username).executeTakeFirst();
  if (!user) throw missingUser(token.username);
  const createdAt = new Date().toISOString();
  await ctx.db
    .insertInto('api_tokens')
    .values({
      id: token.id,
      user_id: user.id,
      name: token.name,
      token_sha256: token.tokenSha256,
      created_at: createdAt,
      expires_at: token.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
    })
    .execute();
  return { id: token.id, name: token.name, username: token.username, createdAt, expiresAt: token.expiresAt ?? '', revokedAt: '', lastUsedAt: '' };
}

function tokenQuery(ctx: StoreContext) {
  return ctx.db
    .selectFrom('api_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.id', 't.name', 'u.username', 'u.role', 't.created_at', 't.expires_at', 't.revoked_at', 't.last_used_at']);
}

/** Every token of one user (or of every user), oldest first. */
export async function listTokens(ctx: StoreContext, username: string | undefined): Promise<ApiTokenRecord[]> {
  let query = tokenQuery(ctx).orderBy('t.created_at').orderBy('t.id');
  if (username !== undefined) {
    if (!(await userExists(ctx, username))) throw missingUser(username);
    query = query.where('u.username', '=', username);
  }
  return (await query.execute()).map(toToken);
}

/** One token by id (its owner's name included); undefined when there is none. */
export async function getToken(ctx: StoreContext, id: string): Promise<ApiTokenRecord | undefined> {
  const row = await tokenQuery(ctx).where('t.id', '=', id).executeTakeFirst();
  return row ? toToken(row) : undefined;
}

/** Marks the token revoked (kept, so ListTokens shows it and when). */
export async function revokeToken(ctx: StoreContext, id: string): Promise<void> {
  await ctx.db.updateTable('api_tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

/** The token with this SHA-256 and its owner's role, and notes its use (at most once a minute). */
export async function tokenBySha256(ctx: StoreContext, sha256: string): Promise<TokenOwner | undefined> {
  const row = await tokenQuery(ctx).where('t.token_sha256', '=', sha256).executeTakeFirst();
  if (!row) return undefined;
  const now = Date.now();
  if (!row.revoked_at && (!row.last_used_at || Date.parse(row.last_used_at) < now - LAST_USED_EVERY_MS)) {
    await ctx.db.updateTable('api_tokens').set({ last_used_at: new Date(now).toISOString() }).where('id', '=', row.id).execute();
  }
  return { ...toToken(row), role: roleOf(row.role) };
}

/** Drops the user's tokens that expired before `before` (old Login tokens). */
export async function pruneExpiredTokens(ctx: StoreContext, username: string, before: string): Promise<void> {
  const user = await ctx.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
  if (!user) return;
  await ctx.db.deleteFrom('api_tokens').where('user_id', '=', user.id).where('expires_at', 'is not', null).where('expires_at', '<', before).execute();
}
