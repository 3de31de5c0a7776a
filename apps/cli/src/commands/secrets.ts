import { defineGroup } from './command';
import { secretsRotateKeyCommand } from './secrets-rotate-key';

/** `laneway secrets rotate-key`: the key the control plane encrypts stored secrets with. */
export const secretsGroup = defineGroup({
  name: 'secrets',
  summary: 'Rotate the key that encrypts stored secrets (HS256 secrets, connection passwords, tokens and keys)',
  commands: [secretsRotateKeyCommand],
});
