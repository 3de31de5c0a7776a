import { defineGroup } from './command';
import { lbHaproxyCommand } from './lb-haproxy';

/** `laneway lb haproxy [CLUSTER...]`: load-balancer configurations from live state. */
export const lbGroup = defineGroup({
  name: 'lb',
  summary: 'Print a load-balancer configuration for the servers, from live state',
  commands: [lbHaproxyCommand],
});
