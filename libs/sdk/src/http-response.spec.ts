import { describe, expect, it } from 'vitest';
import { httpResponse, isHttpResponse } from './http-response';

describe('httpResponse', () => {
  it('encodes text, bytes and JSON bodies so that they survive a JSON copy', () => {
    const text = httpResponse({ status: 201, headers: { 'Content-Type': 'text/csv' }, body: 'a,b' });
    expect(text).toMatchObject({ status: 201, headers: { 'content-type': 'text/csv' }, encoding: 'text', body: 'a,b' });
    const bytes = httpResponse({ body: new Uint8Array([0, 255, 10]) });
    expect(bytes).toMatchObject({ status: 200, encoding: 'base64', body: 'AP8K' });
    expect(httpResponse({ body: { a: 1 } })).toMatchObject({ encoding: 'json', body: { a: 1 } });
    expect(httpResponse({ status: 204 })).toMatchObject({ encoding: 'none' });
    expect(isHttpResponse(JSON.parse(JSON.stringify(bytes)))).toBe(true);
    expect(isHttpResponse({ status: 200 })).toBe(false);
  });

  it('names the bad status or header', () => {
    expect(() => httpResponse({ status: 99 })).toThrow(/status 99 is invalid/);
    expect(() => httpResponse({ headers: { 'bad name': 'x' } })).toThrow(/header name 'bad name' is invalid/);
    expect(() => httpResponse({ headers: { a: 'x\ny' } })).toThrow(/header 'a' has value "x\\ny"/);
  });
});
