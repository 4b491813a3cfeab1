import type { IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { CallCancellation } from './call-cancellation.js';
import { DownstreamRelay, type RelayTarget } from './downstream-relay.js';

/** A sink that takes `capacity` bytes before asking for a drain, and a target (with its cancellation) that records what it was told. */
function recordingTarget(capacity = 1024) {
  const written: string[] = [];
  const finished: (Error | null)[] = [];
  const heads: { statusCode: number; headers: IncomingHttpHeaders }[] = [];
  const sink = new Writable({
    highWaterMark: capacity,
    write: (chunk: Buffer, _encoding, next) => {
      written.push(chunk.toString());
      setImmediate(next);
    },
  });
  const target: RelayTarget = {
    cancel: new CallCancellation(),
    start: (statusCode, headers) => {
      heads.push({ statusCode, headers });
      return sink;
    },
    finish: (error) => finished.push(error),
  };
  return { target, cancel: target.cancel, sink, written, finished, heads };
}

const raw = (...pairs: string[]): Buffer[] => pairs.map((part) => Buffer.from(part));

describe('DownstreamRelay', () => {
  it('relays the head and the body to the sink the target chooses, then reports success once', async () => {
    const { target, sink, written, finished, heads } = recordingTarget();
    const relay = new DownstreamRelay(target);
    relay.onConnect(() => undefined);
    expect(relay.onHeaders(100, raw(), () => undefined)).toBe(true);
    expect(heads).toHaveLength(0);
    expect(relay.onHeaders(200, raw('content-type', 'application/json'), () => undefined)).toBe(true);
    expect(relay.onData(Buffer.from('{"ok":'))).toBe(true);
    relay.onData(Buffer.from('true}'));
    relay.onComplete();
    await new Promise((done) => sink.once('finish', done));
    expect(heads).toEqual([{ statusCode: 200, headers: { 'content-type': 'application/json' } }]);
    expect(written.join('')).toBe('{"ok":true}');
    expect(finished).toEqual([null]);
  });

  it('asks undici to pause while the sink needs a drain, and resumes it on the drain', async () => {
    const { target, sink } = recordingTarget(4);
    const relay = new DownstreamRelay(target);
    let resumed = 0;
    relay.onConnect(() => undefined);
    relay.onHeaders(200, raw(), () => resumed++);
    expect(relay.onData(Buffer.from('more than four bytes'))).toBe(false);
    expect(resumed).toBe(0);
    // The relay listened for the drain first, so it has resumed the call once this listener runs (no timer to lose).
    await new Promise((done) => sink.once('drain', done));
    expect(resumed).toBe(1);
  });

  it('aborts the call when cancelled after it connected, and reports the abort once', async () => {
    const { target, cancel, finished } = recordingTarget();
    const relay = new DownstreamRelay(target);
    const aborts: (Error | undefined)[] = [];
    relay.onConnect((error) => {
      aborts.push(error);
      relay.onError(error!);
    });
    cancel.abort();
    cancel.abort();
    await Promise.resolve();
    expect(aborts).toHaveLength(1);
    expect((aborts[0] as { code?: string }).code).toBe('UND_ERR_ABORTED');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toBe(aborts[0]);
  });

  it('aborts at once a call cancelled before it connected', () => {
    const { target, cancel } = recordingTarget();
    const relay = new DownstreamRelay(target);
    cancel.abort();
    const aborts: (Error | undefined)[] = [];
    relay.onConnect((error) => aborts.push(error));
    expect(aborts).toHaveLength(1);
  });

  it('destroys the sink when the call fails after the head, and does not abort a finished call', () => {
    const { target, cancel, sink, finished } = recordingTarget();
    const relay = new DownstreamRelay(target);
    let aborted = 0;
    relay.onConnect(() => aborted++);
    relay.onHeaders(200, raw(), () => undefined);
    const failure = new Error('socket hang up');
    relay.onError(failure);
    expect(sink.destroyed).toBe(true);
    expect(finished).toEqual([failure]);
    cancel.abort();
    expect(aborted).toBe(0);
  });

  it('reports a failure before any head after the current turn, not inside the dispatch', async () => {
    const { target, finished } = recordingTarget();
    const relay = new DownstreamRelay(target);
    const failure = new Error('connect ECONNREFUSED');
    relay.onError(failure);
    expect(finished).toEqual([]);
    await Promise.resolve();
    expect(finished).toEqual([failure]);
  });
});
