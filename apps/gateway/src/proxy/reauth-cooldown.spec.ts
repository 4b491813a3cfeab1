import { describe, expect, it } from '@jest/globals';
import { ReauthCooldown } from './reauth-cooldown.js';

const A = 'Basic YTpzZWNyZXQ=';
const B = 'Basic YjpzZWNyZXQ=';

function setup(cooldownMs = 30_000, maxEntries?: number) {
  let now = 1_000;
  const cooldown = new ReauthCooldown({ cooldownMs, maxEntries, now: () => now });
  return { cooldown, advance: (ms: number) => (now += ms) };
}

const cold = () => false;

describe('ReauthCooldown', () => {
  it('lets everything through until a downstream refuses a token', () => {
    const { cooldown } = setup();
    expect(cooldown.idle).toBe(true);
    expect(cooldown.admit(A, cold)).toBe(true);
    expect(cooldown.admit(A, cold)).toBe(true);
    expect(cooldown.exhausted(A)).toBe(false);
  });

  it('allows one re-grant per window, then refuses cold requests of those credentials only', () => {
    const { cooldown } = setup();
    cooldown.refused(A);
    expect(cooldown.idle).toBe(false);
    expect(cooldown.exhausted(A)).toBe(false);
    expect(cooldown.admit(A, cold)).toBe(true);
    expect(cooldown.exhausted(A)).toBe(true);
    expect(cooldown.admit(A, cold)).toBe(false);
    expect(cooldown.admit(B, cold)).toBe(true);
    cooldown.refused(A);
    expect(cooldown.admit(A, cold)).toBe(false);
  });

  it('never stops a request whose token is still cached, nor spends the re-grant on it', () => {
    const { cooldown } = setup();
    cooldown.refused(A);
    expect(cooldown.admit(A, () => true)).toBe(true);
    expect(cooldown.exhausted(A)).toBe(false);
    expect(cooldown.admit(A, cold)).toBe(true);
    expect(cooldown.admit(A, () => true)).toBe(true);
  });

  it('ends the window after the cooldown: one more re-grant, and idle again', () => {
    const { cooldown, advance } = setup(30_000);
    cooldown.refused(A);
    cooldown.admit(A, cold);
    expect(cooldown.retryAfterSeconds(A)).toBe(30);
    advance(29_999);
    expect(cooldown.admit(A, cold)).toBe(false);
    advance(1);
    expect(cooldown.idle).toBe(true);
    expect(cooldown.admit(A, cold)).toBe(true);
    cooldown.refused(A);
    expect(cooldown.admit(A, cold)).toBe(true);
    expect(cooldown.admit(A, cold)).toBe(false);
  });

  it('opens no window when the cooldown is 0, and ignores requests without one Authorization value', () => {
    const { cooldown } = setup(0);
    cooldown.refused(A);
    expect(cooldown.idle).toBe(true);
    const open = setup().cooldown;
    open.refused(undefined);
    open.refused([A, B]);
    expect(open.idle).toBe(true);
  });

  it('holds at most maxEntries windows, dropping the oldest', () => {
    const { cooldown } = setup(30_000, 2);
    cooldown.refused(A);
    cooldown.admit(A, cold);
    cooldown.refused(B);
    cooldown.refused('Basic Yzpz');
    expect(cooldown.admit(A, cold)).toBe(true);
  });
});
