import { clusterCreateCommand } from './cluster-create';
import { clusterDeleteCommand } from './cluster-delete';
import { clusterTokenCommand } from './cluster-token';
import { defineGroup } from './command';

/** `laneway cluster create NAME`, `… delete NAME`, `… token NAME`. */
export const clusterGroup = defineGroup({
  name: 'cluster',
  summary: "Create and delete clusters, print a cluster's join token",
  commands: [clusterCreateCommand, clusterDeleteCommand, clusterTokenCommand],
});
