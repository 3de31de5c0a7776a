import { defineGroup } from './command';
import { securityDeleteCommand } from './security-delete';
import { securityListCommand } from './security-list';
import { securityPutCommand } from './security-put';
import { securityShowCommand } from './security-show';

/**
 * `laneway security` (the list), `… create-api-key|create-basic|create-jwt NAME …`, the matching
 * `update-*`, `… show NAME`, `… delete NAME`: the security definitions channels name in `--security`.
 */
export const securityGroup = defineGroup({
  name: 'security',
  summary: 'List, create, update, show and delete security definitions (how channels check callers)',
  defaultCommand: 'list',
  commands: [
    securityListCommand,
    securityPutCommand('create', 'api-key'),
    securityPutCommand('create', 'basic'),
    securityPutCommand('create', 'jwt'),
    securityPutCommand('update', 'api-key'),
    securityPutCommand('update', 'basic'),
    securityPutCommand('update', 'jwt'),
    securityShowCommand,
    securityDeleteCommand,
  ],
});
