import type { Writable } from 'node:stream';

type WriteHook = '_write' | '_writev';

/** Counts calls of `stream[name]` until the returned function restores it. */
function countCalls(stream: Writable, name: WriteHook, count: () => void): () => void {
  const hooks = stream as unknown as Record<WriteHook, ((...args: unknown[]) => unknown) | undefined>;
  const original = hooks[name];
  const own = Object.hasOwn(stream, name);
  if (original === undefined) return () => undefined;
  hooks[name] = function (this: Writable, ...args: unknown[]) {
    count();
    return original.apply(this, args);
  };
  return () => {
    if (own) hooks[name] = original;
    else delete hooks[name];
  };
}

/**
 * The writes `streams` hand to their sockets while `work` runs (`_write` and `_writev` calls: one per batch of chunks),
 * whatever the peer's reads make of them.
 */
export async function socketWritesDuring(
  streams: readonly Writable[],
  work: () => Promise<unknown>,
): Promise<number> {
  let writes = 0;
  const count = () => (writes += 1);
  const restores = streams.flatMap((stream) => [
    countCalls(stream, '_write', count),
    countCalls(stream, '_writev', count),
  ]);
  try {
    await work();
  } finally {
    for (const restore of restores) restore();
  }
  return writes;
}
