import { clusterCreateCommand } from './cluster-create';
import { clusterDeleteCommand } from './cluster-delete';
import { clusterShowCommand } from './cluster-show';
import { clusterTokenCommand } from './cluster-token';
import { clustersCommand } from './clusters';
import { aliasOf, defineGroup } from './command';

/** `laneway cluster list`, `… create NAME`, `… show NAME`, `… delete NAME`, `… token NAME`. */
export const clusterGroup = defineGroup({
  name: 'cluster',
  summary: "List, create, show and delete clusters, print a cluster's join token",
  commands: [
    aliasOf(clustersCommand, 'list', 'List the clusters (also `laneway clusters`)'),
    clusterCreateCommand,
    clusterShowCommand,
    clusterDeleteCommand,
    clusterTokenCommand,
  ],
});
