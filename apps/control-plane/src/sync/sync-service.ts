import { SyncResponse, SyncServiceService } from '@laneway/proto';

/**
 * A push already in wire form. Every server at one base revision gets the same delta, so the hub
 * encodes it once per revision (and drain flag) and writes the same bytes, nonce included, to each
 * of their streams: a nonce only has to tell one stream's pushes apart.
 */
export class EncodedPush {
  constructor(
    readonly nonce: string,
    readonly bytes: Buffer,
  ) {}
}

/**
 * SyncService as the control plane serves it: the generated definition, except that a response
 * already encoded ({@link EncodedPush}) is sent as it is. A thousand servers then cost one encode of
 * a revision, not a thousand.
 */
export const SyncServiceDefinition = {
  ...SyncServiceService,
  sync: {
    ...SyncServiceService.sync,
    responseSerialize: (value: SyncResponse | EncodedPush): Buffer =>
      value instanceof EncodedPush ? value.bytes : Buffer.from(SyncResponse.encode(value).finish()),
  },
} as const;
