/**
 * What `laneway mirror …` prints: a cluster's mirror status (its role, epoch, revisions, the link to
 * its source or its followers, what it discarded) and the outcome of a promotion. Pure functions of
 * the responses, without a trailing newline.
 */
import { MirrorRole } from '@laneway/proto';
import type { DiscardedChange, MirrorFollower, MirrorStatus, PromoteResponse } from '@laneway/proto';
import { formatDuration } from './commands/option-parsers';
import { formatTable } from './format';

/** `standalone`, `source`, `follower`; a role this CLI does not know is `unknown (N)`. */
export function mirrorRoleName(role: MirrorRole): string {
  switch (role) {
    case MirrorRole.MIRROR_ROLE_STANDALONE:
      return 'standalone';
    case MirrorRole.MIRROR_ROLE_SOURCE:
      return 'source';
    case MirrorRole.MIRROR_ROLE_FOLLOWER:
      return 'follower';
    default:
      return `unknown (${role})`;
  }
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** How far a follower is behind: `0ms (caught up)`, else the duration as the CLI writes them (`1500ms`, `2m`). */
export function formatLag(lagMs: number): string {
  return lagMs <= 0 ? '0ms (caught up)' : formatDuration(lagMs);
}

/** `HOST:PORT, cluster NAME`; `-` when the status names no source. */
function sourceOf(status: MirrorStatus): string {
  if (status.sourceAddress === '' && status.sourceCluster === '') return '-';
  const cluster = status.sourceCluster === '' ? '' : `, cluster ${status.sourceCluster}`;
  return `${status.sourceAddress || '-'}${cluster}`;
}

/** The followers of a source: one line each, with the source revision it reached and when it was last seen. */
export function formatMirrorFollowers(followers: readonly MirrorFollower[]): string {
  return formatTable([
    ['FOLLOWER ID', 'CLUSTER', 'APPLIED REVISION', 'LAST SEEN', 'CONNECTED'],
    ...followers.map((f) => [f.followerId || '-', f.cluster || '-', String(f.appliedRevision), f.lastSeen || '-', yesNo(f.connected)]),
  ]);
}

/** What this site committed after a forced failover split it off, dropped when it stepped down. */
export function formatDiscarded(discarded: readonly DiscardedChange[]): string {
  return formatTable([['KIND', 'NAME', 'REVISION'], ...discarded.map((d) => [d.kind || '-', d.name || '-', String(d.revision)])]);
}

/**
 * A cluster's mirror status, field by field: every role shows its role, epoch and own revision; a
 * follower its source, the source revision it knows of and the one it applied, its lag and its link;
 * a source whether it is handing over and its FOLLOWERS. The DISCARDED changes follow when there are
 * any. A role this CLI does not know shows every field.
 */
export function formatMirrorStatus(status: MirrorStatus): string {
  const { role } = status;
  const follower = role === MirrorRole.MIRROR_ROLE_FOLLOWER;
  const source = role === MirrorRole.MIRROR_ROLE_SOURCE;
  const known = follower || source || role === MirrorRole.MIRROR_ROLE_STANDALONE;
  const rows: string[][] = [
    ['cluster', status.cluster],
    ['role', mirrorRoleName(role)],
    ['epoch', String(status.epoch)],
    ['revision', String(status.revision)],
  ];
  if (follower || !known) {
    rows.push(
      ['source', sourceOf(status)],
      ['source revision', String(status.sourceRevision)],
      ['applied source revision', String(status.appliedSourceRevision)],
      ['lag', formatLag(status.lagMs)],
      ['connected', yesNo(status.connected)],
      ['last error', status.lastError || '-'],
    );
  } else if (status.lastError !== '') {
    rows.push(['last error', status.lastError]);
  }
  if (source || !known || status.handingOver) rows.push(['handing over', yesNo(status.handingOver)]);
  const out = [formatTable(rows)];
  if (source || (!known && status.followers.length > 0)) {
    out.push(status.followers.length === 0 ? 'followers: none yet' : `followers:\n${indent(formatMirrorFollowers(status.followers))}`);
  }
  if (status.discarded.length > 0) {
    out.push(
      `discarded (committed here after the split, dropped when this site stepped down):\n${indent(formatDiscarded(status.discarded))}`,
    );
  }
  return out.join('\n');
}

/** The promoted cluster's status, then whether the old source now follows it (and at which address it was told to). */
export function formatPromote(response: PromoteResponse, address: string): string {
  const status = response.status ? formatMirrorStatus(response.status) : 'status: none returned';
  const following = response.oldSourceFollowing
    ? `old source following: yes (it follows ${address || 'this site'})`
    : address === ''
      ? 'old source following: no (no address to give it: pass --address HOST:PORT)'
      : `old source following: no (not reached; it was to follow ${address})`;
  return `${status}\n${following}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
