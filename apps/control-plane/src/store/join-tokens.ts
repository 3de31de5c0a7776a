import { randomBytes, timingSafeEqual } from 'node:crypto';
import { findCluster, type StoreContext } from './revision';

// The per-cluster token data-plane servers present to join (`lwj_...`, in clusters.join_token).

/** The cluster's join token, created on first use. */
export async function getJoinToken(ctx: StoreContext, cluster: string): Promise<string> {
  const c = await findCluster(ctx.db, cluster);
  // Only fills an empty token, so two control planes asking at once agree on one.
  await ctx.db.updateTable('clusters').set({ join_token: newToken() }).where('id', '=', c.id).where('join_token', 'is', null).execute();
  const row = await ctx.db.selectFrom('clusters').select('join_token').where('id', '=', c.id).executeTakeFirstOrThrow();
  return row.join_token!;
}

export async function rotateJoinToken(ctx: StoreContext, cluster: string): Promise<string> {
  const c = await findCluster(ctx.db, cluster);
  const token = newToken();
  await ctx.db.updateTable('clusters').set({ join_token: token }).where('id', '=', c.id).execute();
  return token;
}

/** The cluster a join token belongs to, if any. */
export async function clusterOfJoinToken(ctx: StoreContext, token: string): Promise<string | undefined> {
  if (!token.startsWith('lwj_')) return undefined;
  const rows = await ctx.db.selectFrom('clusters').select(['name', 'join_token']).where('join_token', '=', token).execute();
  // The equality above is not constant-time; confirm with one that is.
  return rows.find((r) => r.join_token !== null && sameSecret(r.join_token, token))?.name;
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function newToken(): string {
  return `lwj_${randomBytes(24).toString('base64url')}`;
}
