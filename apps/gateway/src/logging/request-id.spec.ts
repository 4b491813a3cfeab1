import { describe, it, expect } from '@jest/globals';
import { newRequestId, requestIdOf } from './request-id.js';

describe('requestIdOf', () => {
  it('uses a sane incoming x-request-id, else a random one, the same for the whole request', () => {
    expect(requestIdOf({ headers: { 'x-request-id': 'abc-123' } })).toBe('abc-123');
    const hostile = { headers: { 'x-request-id': 'x\n{"level":60}' } };
    const id = requestIdOf(hostile);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf(hostile)).toBe(id);
    expect(requestIdOf({ headers: { 'x-request-id': 'a'.repeat(200) } })).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] } })).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('newRequestId', () => {
  it('chooses as requestIdOf does, and leaves nothing on the headers or the request', () => {
    const headers = { 'x-request-id': 'abc-123' };
    expect(newRequestId(headers)).toBe('abc-123');
    expect(Object.getOwnPropertySymbols(headers)).toEqual([]);
    const hostile = { 'x-request-id': 'x\n{"level":60}' };
    const first = newRequestId(hostile);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(newRequestId(hostile)).not.toBe(first);
    expect(newRequestId({ 'x-request-id': ['a', 'b'] })).toMatch(/^[0-9a-f-]{36}$/);
  });
});
