import { MirrorRole, MirrorStatus } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { formatJson } from './format';
import { formatLag, formatMirrorStatus, formatPromote, mirrorRoleName } from './mirror-format';

function status(fields: Partial<MirrorStatus>): MirrorStatus {
  return MirrorStatus.fromPartial({ cluster: 'prod', ...fields });
}

const FOLLOWER = status({
  role: MirrorRole.MIRROR_ROLE_FOLLOWER,
  sourceAddress: '10.0.0.1:50051',
  sourceCluster: 'prod-a',
  epoch: 2,
  revision: 17,
  sourceRevision: 42,
  appliedSourceRevision: 40,
  lagMs: 1500,
  connected: false,
  lastError: 'UNAVAILABLE: connect ECONNREFUSED 10.0.0.1:50051',
});

const SOURCE = status({
  role: MirrorRole.MIRROR_ROLE_SOURCE,
  epoch: 3,
  revision: 42,
  sourceRevision: 42,
  followers: [
    { followerId: 'cp-b-1', cluster: 'prod', appliedRevision: 42, lastSeen: '2026-12-06T15:00:00.000Z', connected: true },
    { followerId: 'cp-c', cluster: 'prod-copy', appliedRevision: 7, lastSeen: '', connected: false },
  ],
});

describe('mirror status', () => {
  it('names each role, and a role it does not know by its number', () => {
    expect(mirrorRoleName(MirrorRole.MIRROR_ROLE_STANDALONE)).toBe('standalone');
    expect(mirrorRoleName(MirrorRole.MIRROR_ROLE_SOURCE)).toBe('source');
    expect(mirrorRoleName(MirrorRole.MIRROR_ROLE_FOLLOWER)).toBe('follower');
    expect(mirrorRoleName(MirrorRole.MIRROR_ROLE_UNSPECIFIED)).toBe('unknown (0)');
    expect(mirrorRoleName(7 as MirrorRole)).toBe('unknown (7)');
  });

  it('writes the lag as the CLI writes durations, and says when caught up', () => {
    expect(formatLag(0)).toBe('0ms (caught up)');
    expect(formatLag(1500)).toBe('1500ms');
    expect(formatLag(120_000)).toBe('2m');
    expect(formatLag(3000)).toBe('3s');
  });

  it('shows a standalone cluster with its role, epoch and revision only', () => {
    expect(formatMirrorStatus(status({ role: MirrorRole.MIRROR_ROLE_STANDALONE, revision: 5, sourceRevision: 5 }))).toBe(
      ['cluster   prod', 'role      standalone', 'epoch     0', 'revision  5'].join('\n'),
    );
  });

  it("shows a follower's source, revisions, lag and link with its last error", () => {
    expect(formatMirrorStatus(FOLLOWER)).toBe(
      [
        'cluster                  prod',
        'role                     follower',
        'epoch                    2',
        'revision                 17',
        'source                   10.0.0.1:50051, cluster prod-a',
        'source revision          42',
        'applied source revision  40',
        'lag                      1500ms',
        'connected                no',
        'last error               UNAVAILABLE: connect ECONNREFUSED 10.0.0.1:50051',
      ].join('\n'),
    );
    const caughtUp = formatMirrorStatus({ ...FOLLOWER, lagMs: 0, connected: true, lastError: '', appliedSourceRevision: 42 });
    expect(caughtUp).toContain('\nlag                      0ms (caught up)\n');
    expect(caughtUp).toContain('\nconnected                yes\n');
    expect(caughtUp).toMatch(/\nlast error {15}-$/);
  });

  it('shows a source with its FOLLOWERS table and whether it is handing over', () => {
    expect(formatMirrorStatus(SOURCE)).toBe(
      [
        'cluster       prod',
        'role          source',
        'epoch         3',
        'revision      42',
        'handing over  no',
        'followers:',
        '  FOLLOWER ID  CLUSTER    APPLIED REVISION  LAST SEEN                 CONNECTED',
        '  cp-b-1       prod       42                2026-12-06T15:00:00.000Z  yes',
        '  cp-c         prod-copy  7                 -                         no',
      ].join('\n'),
    );
    const handing = formatMirrorStatus({ ...SOURCE, handingOver: true, followers: [] });
    expect(handing).toContain('\nhanding over  yes\n');
    expect(handing).toMatch(/\nfollowers: none yet$/);
  });

  it('lists the DISCARDED changes only when there are some', () => {
    expect(formatMirrorStatus(FOLLOWER)).not.toContain('discarded');
    const text = formatMirrorStatus({
      ...FOLLOWER,
      discarded: [
        { kind: 'service', name: 'billing', revision: 31 },
        { kind: 'channel', name: 'orders-api', revision: 32 },
      ],
    });
    expect(text).toContain(
      [
        '\ndiscarded (committed here after the split, dropped when this site stepped down):',
        '  KIND     NAME        REVISION',
        '  service  billing     31',
        '  channel  orders-api  32',
      ].join('\n'),
    );
    expect(text.endsWith('  channel  orders-api  32')).toBe(true);
  });

  it('shows every field of a role it does not know', () => {
    const text = formatMirrorStatus({ ...FOLLOWER, role: 9 as MirrorRole, followers: SOURCE.followers });
    expect(text).toContain('\nrole                     unknown (9)\n');
    expect(text).toContain('\nsource                   10.0.0.1:50051, cluster prod-a\n');
    expect(text).toContain('\nhanding over             no\n');
    expect(text).toContain('\n  cp-b-1 ');
  });

  it('says whether the old source follows the promoted site, and where it was told to', () => {
    const promoted = { ...FOLLOWER, role: MirrorRole.MIRROR_ROLE_SOURCE, epoch: 3, followers: [] };
    const yes = formatPromote({ status: promoted, oldSourceFollowing: true }, '10.0.0.2:50051');
    expect(yes).toMatch(/^cluster {7}prod\nrole {10}source\n/);
    expect(yes.endsWith('\nold source following: yes (it follows 10.0.0.2:50051)')).toBe(true);
    expect(formatPromote({ status: promoted, oldSourceFollowing: false }, '10.0.0.2:50051')).toMatch(
      /\nold source following: no \(not reached; it was to follow 10\.0\.0\.2:50051\)$/,
    );
    expect(formatPromote({ status: undefined, oldSourceFollowing: false }, '')).toBe(
      'status: none returned\nold source following: no (no address to give it: pass --address HOST:PORT)',
    );
  });

  it('prints --json with the role by name and every field', () => {
    const json = JSON.parse(formatJson(FOLLOWER)) as Record<string, unknown>;
    expect(json).toMatchObject({ cluster: 'prod', role: 'FOLLOWER', epoch: 2, lagMs: 1500, connected: false, followers: [], discarded: [] });
    const nested = JSON.parse(formatJson({ status: SOURCE, oldSourceFollowing: true })) as { status: Record<string, unknown> };
    expect(nested.status['role']).toBe('SOURCE');
    expect(JSON.parse(formatJson({ status: { ...SOURCE, role: 7 } })).status.role).toBe(7);
  });
});
