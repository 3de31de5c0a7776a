/**
 * `laneway user` and `laneway token`: role names both ways, and the users and tokens as tables.
 */
import { Role, type ApiToken, type User } from '@laneway/proto';
import { formatTable } from './format';

export const ROLE_NAMES = ['viewer', 'operator', 'admin'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

const ROLES: Record<RoleName, Role> = { viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN };

export function roleOfName(name: RoleName): Role {
  return ROLES[name];
}

export function roleName(role: Role): string {
  return (Object.keys(ROLES) as RoleName[]).find((name) => ROLES[name] === role) ?? 'unknown';
}

/** An ISO time to the second, '-' when empty. */
function at(time: string): string {
  return time ? time.replace(/\.\d+Z$/, 'Z') : '-';
}

export function formatUsers(users: readonly User[]): string {
  if (users.length === 0) return 'no users';
  return formatTable([['USERNAME', 'ROLE', 'CREATED', 'UPDATED'], ...users.map((u) => [u.username, roleName(u.role), at(u.createdAt), at(u.updatedAt)])]);
}

export function formatUser(user: User, verb: string): string {
  return `${verb} user '${user.username}' (${roleName(user.role)})`;
}

/** A token's state at `now`: active, expired or revoked. */
export function tokenState(token: ApiToken, now: number): string {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}

export function formatTokens(tokens: readonly ApiToken[], now: number): string {
  if (tokens.length === 0) return 'no tokens';
  const rows = tokens.map((t) => [t.id, t.name, t.username, tokenState(t, now), at(t.createdAt), at(t.expiresAt), at(t.lastUsedAt)]);
  return formatTable([['ID', 'NAME', 'USER', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'], ...rows]);
}
