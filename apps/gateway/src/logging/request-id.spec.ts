import { describe, it, expect } from '@jest/globals';
import { requestIdOf } from './request-id.js';

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
