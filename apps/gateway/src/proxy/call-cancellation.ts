type AbortListener = () => void;

/**
 * The cancel switch of one downstream call: `abort()` ends the call (undici takes it as the call's `signal`, in its
 * EventEmitter form) and frees its connection. It stands in for an `AbortController`, which cost the warm path more
 * CPU than anything else it did: an `AbortSignal` is an `EventTarget` that Node tracks for its own cleanup, and undici
 * adds and removes an `abort` listener on it for every call. This one holds its listeners in a plain array and is
 * garbage the young generation collects.
 * @example
 * const cancel = new CallCancellation();
 * pool.stream({ method: 'GET', path: '/', signal: cancel }, factory, callback);
 * response.once('close', () => cancel.abort());
 */
export class CallCancellation {
  private listeners: AbortListener[] | undefined;
  private cancelled = false;

  /** Whether `abort()` was called. */
  get aborted(): boolean {
    return this.cancelled;
  }

  /** Cancels the call: every `abort` listener runs once; later calls do nothing. */
  abort(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** Adds an `abort` listener (as `EventEmitter.on` does; undici checks for it). Other events never fire. */
  on(event: string, listener: AbortListener): this {
    if (event === 'abort' && !this.cancelled) (this.listeners ??= []).push(listener);
    return this;
  }

  /** The same as `on`: `abort` fires at most once. */
  once(event: string, listener: AbortListener): this {
    return this.on(event, listener);
  }

  /** Removes an `abort` listener added before. */
  removeListener(event: string, listener: AbortListener): this {
    const listeners = this.listeners;
    if (event !== 'abort' || listeners === undefined) return this;
    const index = listeners.indexOf(listener);
    if (index >= 0) listeners.splice(index, 1);
    return this;
  }

  /** The same as `removeListener`. */
  off(event: string, listener: AbortListener): this {
    return this.removeListener(event, listener);
  }
}
