export { Connectors, type ConnectionEntry, type ConnectorsOptions, type ConnectionTestOutcome, type ConnectionStats } from './connectors';
export { ConnectionError, type ConnectionErrorCode, type ConnectionErrorFields } from './connection-error';
export { CONNECTION_KINDS, type ConnectionInfo, type ConnectionKind } from './connection-info';
export type { CallDetail, CallEnd } from './slot';
