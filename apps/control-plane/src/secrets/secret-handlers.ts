import type { Metadata } from '@grpc/grpc-js';
import type { SecretServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import { unary } from '../api/grpc-errors';
import type { SecretKeyRotation } from './secret-key-rotation';

/** SecretService: the wire side of {@link SecretKeyRotation}. The answer names key ids, never keys. */
export function secretHandlers(
  rotation: SecretKeyRotation,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): SecretServiceServer {
  return {
    rotateSecretKey: unary('RotateSecretKey', log, admin, async () => rotation.rotate()),
  };
}
