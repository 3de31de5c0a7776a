import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { channelSpecOf, type ChannelInput } from './channel-spec';

const input = (path: string): ChannelInput => ({ name: 'greet', method: 'get', path, service: 'hello', security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0 });

/** The error channelSpecOf throws for `path`, as field and message. */
function refusal(path: string): { field: string; message: string } {
  try {
    channelSpecOf(input(path));
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return { field: (err as InvalidArgumentError).field, message: (err as Error).message };
  }
  throw new Error(`path ${path} was accepted`);
}

describe('channelSpecOf: paths', () => {
  it("stores OpenAPI's {name} parameters as :name, so one spelling is listed and exported", () => {
    expect(channelSpecOf(input('/greet/{name}')).path).toBe('/greet/:name');
    expect(channelSpecOf(input('/customers/{customerId}/orders/:orderId')).path).toBe('/customers/:customerId/orders/:orderId');
    expect(channelSpecOf(input('/greet/:name')).path).toBe('/greet/:name');
    expect(channelSpecOf(input('/')).path).toBe('/');
  });

  it('refuses a * anywhere (it used to be a literal star), naming the field and the value', () => {
    expect(refusal('/files/*')).toEqual({
      field: 'path',
      message: "path '/files/*' is invalid: segment '*' holds '*': paths have no wildcards; use a parameter such as ':name' or '{name}' for one segment",
    });
    expect(refusal('/files/a*b').message).toContain("path '/files/a*b' is invalid: segment 'a*b' holds '*'");
  });

  it('refuses braces that are not a whole-segment parameter, and one parameter given twice in two spellings', () => {
    expect(refusal('/files/{name}.txt')).toEqual({
      field: 'path',
      message: "path '/files/{name}.txt' is invalid: segment '{name}.txt' holds '{' or '}': a parameter is a whole segment, '{name}' or ':name'",
    });
    expect(refusal('/a/{}').message).toContain("parameter '{}' must be ':name' or '{name}'");
    expect(refusal('/a/{1x}').message).toContain("parameter '{1x}' must be");
    expect(refusal('/a/{id}/b/:id').message).toBe("path '/a/{id}/b/:id' is invalid: parameter 'id' appears twice");
  });
});
