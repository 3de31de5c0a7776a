import type { Metadata } from '@grpc/grpc-js';
import type { MirrorServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator';
import type { RequestChecks } from '../checks/request-checks';
import type { MirrorCoordinator } from '../mirror/mirror-coordinator';
import type { FollowerSessions } from '../sync/follower-sessions';
import { unary } from './grpc-errors';

/**
 * MirrorService: the operator's calls (admin token) and the other site's (mirror token of the one
 * cluster it follows: Pull, HandOver, StepDown).
 */
export function mirrorHandlers(
  mirror: MirrorCoordinator,
  followers: FollowerSessions,
  auth: Authenticator,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): MirrorServiceServer {
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  // A valid token first (so an unauthenticated call learns nothing of the request), then a mirror
  // token (so a join, admin or user token is refused as such, whatever the request holds), then the
  // request's cluster, which must be the one the mirror token names.
  const anyone = async (metadata: Metadata) => {
    await auth.authenticate(metadata);
  };
  return {
    createMirrorToken: unary('CreateMirrorToken', log, admin, async (req) => ({ cluster: cluster(req), token: await mirror.createToken(cluster(req)) })),
    follow: unary('Follow', log, admin, async (req) => {
      const status = await mirror.follow({ ...req, cluster: cluster(req), sourceCluster: req.sourceCluster ? check.name('source_cluster', req.sourceCluster) : '' });
      return { status };
    }),
    getMirrorStatus: unary('GetMirrorStatus', log, admin, async (req) => mirror.status(cluster(req))),
    promote: unary('Promote', log, admin, async (req) => {
      const promoted = await mirror.promote({ ...req, cluster: cluster(req) });
      return { status: promoted.status, oldSourceFollowing: promoted.oldSourceFollowing };
    }),
    pull: followers.handleStream,
    handOver: unary('HandOver', log, anyone, async (req, call) => {
      await auth.requireMirror(call.metadata, () => cluster(req), 'HandOver');
      return mirror.handOver({ ...req, cluster: cluster(req) });
    }),
    stepDown: unary('StepDown', log, anyone, async (req, call) => {
      await auth.requireMirror(call.metadata, () => cluster(req), 'StepDown');
      return { discarded: await mirror.stepDown({ ...req, cluster: cluster(req) }) };
    }),
  };
}
