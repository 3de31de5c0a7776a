import { describe, expect, it } from 'vitest';
import { channelInput, NO_BODY } from './channel-input';

describe('channelInput', () => {
  it('takes the body, then the query, then the path parameters, each overriding the ones before', () => {
    expect(channelInput({ a: 1, id: 'body' }, { id: 'query', q: 'x' }, { id: 'path' })).toEqual({ a: 1, id: 'path', q: 'x' });
    expect(channelInput(NO_BODY, {}, { id: '7' })).toEqual({ id: '7' });
    expect(channelInput(NO_BODY, { tag: ['a', 'b'] }, {})).toEqual({ tag: ['a', 'b'] });
    expect(channelInput([1, 2], {}, {})).toEqual({ body: [1, 2] });
    expect(channelInput(null, {}, { id: '1' })).toEqual({ body: null, id: '1' });
  });

  it('returns a new object, and keeps __proto__ a plain property', () => {
    const params = { id: '1' };
    const input = channelInput(NO_BODY, {}, params);
    expect(input).not.toBe(params);
    const query = JSON.parse('{"__proto__": "q"}') as Record<string, string>;
    const hostile = channelInput(JSON.parse('{"__proto__": {"polluted": true}}'), query, {});
    expect(Object.getPrototypeOf(hostile)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(hostile, '__proto__')?.value).toBe('q');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
