/**
 * The logger a service receives as `ctx.log`. Pass structured fields first and a constant message
 * second, so logs stay searchable.
 *
 * @example
 * ctx.log.info({ customerId: input.id }, 'customer loaded');
 */
export interface ServiceLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
