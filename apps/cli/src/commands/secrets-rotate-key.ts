import { formatJson } from '../format';
import { defineCommand } from './command';

export const secretsRotateKeyCommand = defineCommand<null>({
  name: 'rotate-key',
  summary:
    'Make a new key current for the stored secrets and re-encrypt all of them with it, in one transaction (prints the key id, never a key)',
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.rotateSecretKey();
    context.out(
      context.json
        ? formatJson(response)
        : `secret key ${response.keyId} is current: re-encrypted ${response.reEncrypted} stored secret${response.reEncrypted === 1 ? '' : 's'}`,
    );
    return 0;
  },
});
