import { defineGroup } from './command';
import { mirrorFollowCommand } from './mirror-follow';
import { mirrorPromoteCommand } from './mirror-promote';
import { mirrorStatusCommand } from './mirror-status';
import { mirrorTokenCommand } from './mirror-token';

/** `laneway mirror token|follow|status|promote CLUSTER`: one cluster kept identical on two sites. */
export const mirrorGroup = defineGroup({
  name: 'mirror',
  summary: 'Mirror a cluster to another site: create a token, follow a source, show the status, promote a follower',
  commands: [mirrorTokenCommand, mirrorFollowCommand, mirrorStatusCommand, mirrorPromoteCommand],
});
