import { describe, expect, it } from '@jest/globals';
import { MemoryReauthWindows } from './memory-reauth-windows.js';

describe('MemoryReauthWindows', () => {
  const clock = { ms: 1_000 };
  const windows = (maxEntries?: number) => new MemoryReauthWindows({ maxEntries, now: () => clock.ms });

  it('holds one re-grant from when a window opens until it ends', () => {
    clock.ms = 1_000;
    const held = windows();
    expect(held.spend('tag')).toEqual({ open: false });
    held.open('tag', 30_000);
    expect(held.spend('tag')).toEqual({ open: true, regrant: true, resetInMs: 30_000 });
    clock.ms = 11_000;
    expect(held.spend('tag')).toEqual({ open: true, regrant: false, resetInMs: 20_000 });
    clock.ms = 31_000;
    expect(held.spend('tag')).toEqual({ open: false });
  });

  it('leaves an open window as it is when the token is refused again, and keys windows apart', () => {
    clock.ms = 1_000;
    const held = windows();
    held.open('tag', 30_000);
    expect(held.spend('tag')).toMatchObject({ regrant: true });
    held.open('tag', 30_000);
    expect(held.spend('tag')).toMatchObject({ regrant: false, resetInMs: 30_000 });
    expect(held.spend('other')).toEqual({ open: false });
    held.open('none', 0);
    expect(held.spend('none')).toEqual({ open: false });
  });

  it('keeps at most maxEntries windows, dropping the least recently used', () => {
    clock.ms = 1_000;
    const held = windows(2);
    held.open('a', 30_000);
    held.open('b', 30_000);
    held.open('c', 30_000);
    expect(held.spend('a')).toEqual({ open: false });
    expect(held.spend('c')).toMatchObject({ open: true, regrant: true });
  });
});
