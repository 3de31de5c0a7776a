/**
 * `@laneway/sdk`: what a Laneway service author imports.
 *
 * @packageDocumentation
 */
export {
  defineService,
  isServiceDefinition,
  SERVICE_MARK,
  SERVICE_NAME_PATTERN,
  type ServiceSpec,
  type ServiceDefinition,
} from './define-service';
export { SERVICE_LANES, type ServiceLane } from './lane';
export type { ServiceContext, InvokeOptions } from './service-context';
export type { ServiceLogger } from './service-logger';
export type { SqlClient, RedisClient, RestClient, RestRequestOptions, RestResponse, RestQueryValue, AmqpPublisher, AmqpPublishOptions } from './connections';
export type { HttpRequestInfo } from './http-request';
export { httpResponse, isHttpResponse, HTTP_RESPONSE_MARK, type HttpResponse, type HttpResponseInit } from './http-response';
export { ServiceInvocationError, type InvocationErrorCode, type ServiceInvocationErrorOptions } from './service-invocation-error';
export {
  SchemaIssuesError,
  isStandardSchema,
  validateWithSchema,
  type SchemaIssue,
  type ServiceSchema,
  type StandardResult,
  type StandardSchemaV1,
} from './schema';
