export * from './api-client';
export * from './api-error';
export { ignoreIpServernameWarning } from './ignore-ip-servername-warning';
