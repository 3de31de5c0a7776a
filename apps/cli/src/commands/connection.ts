import { aliasOf, defineGroup } from './command';
import { connectionDeleteCommand } from './connection-delete';
import { connectionPutCommand } from './connection-put';
import { connectionShowCommand } from './connection-show';
import { connectionTestCommand } from './connection-test';
import { connectionsCommand } from './connections';

/**
 * `laneway connection list`, `… create NAME --postgres|--mysql|--rest|--redis|--amqp URL …`, `… update NAME …`,
 * `… show NAME`, `… delete NAME`, `… test NAME`: the outgoing connections services declare.
 */
export const connectionGroup = defineGroup({
  name: 'connection',
  summary: 'List, create, update, show, delete and test outgoing connections',
  commands: [
    aliasOf(connectionsCommand, 'list', "List the cluster's outgoing connections (also `laneway connections`)"),
    connectionPutCommand('create'),
    connectionPutCommand('update'),
    connectionShowCommand,
    connectionDeleteCommand,
    connectionTestCommand,
  ],
});
