import { InvalidArgumentError } from '../errors';

/** A required string field of a request, named as in the .proto. */
export function requireField(field: string, value: string): string {
  if (!value) throw new InvalidArgumentError(field, `${field} is empty`);
  return value;
}
