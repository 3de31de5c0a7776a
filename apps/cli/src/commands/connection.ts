import { defineGroup } from './command';
import { connectionDeleteCommand } from './connection-delete';
import { connectionPutCommand } from './connection-put';
import { connectionShowCommand } from './connection-show';
import { connectionTestCommand } from './connection-test';

/**
 * `laneway connection create NAME --postgres|--mysql|--rest|--redis|--amqp URL …`, `… update NAME …`,
 * `… show NAME`, `… delete NAME`, `… test NAME`: the outgoing connections services declare.
 */
export const connectionGroup = defineGroup({
  name: 'connection',
  summary: 'Create, update, show, delete and test outgoing connections',
  commands: [
    connectionPutCommand('create'),
    connectionPutCommand('update'),
    connectionShowCommand,
    connectionDeleteCommand,
    connectionTestCommand,
  ],
});
