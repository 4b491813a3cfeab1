import { describe, it, expect, afterAll, beforeAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import { CallCancellation } from './call-cancellation.js';

describe('CallCancellation', () => {
  it('runs every abort listener once, on the first abort only, and reports aborted', () => {
    const cancel = new CallCancellation();
    const calls: string[] = [];
    cancel.once('abort', () => calls.push('a'));
    cancel.on('abort', () => calls.push('b'));
    expect(cancel.aborted).toBe(false);
    cancel.abort();
    cancel.abort();
    expect(cancel.aborted).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('forgets a removed listener and never fires other events', () => {
    const cancel = new CallCancellation();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    cancel.on('abort', removed);
    cancel.on('abort', () => calls.push('kept'));
    cancel.removeListener('abort', removed);
    cancel.on('close', () => calls.push('close'));
    cancel.abort();
    expect(calls).toEqual(['kept']);
  });

  describe('as the signal of an undici call', () => {
    let server: Server;
    let pool: Pool;
    /** Resolves when the downstream has the slow call, then when that call's connection closes. */
    let slowArrived: Promise<void>;
    let slowClosed: Promise<void>;

    beforeAll(async () => {
      let arrived = (): void => undefined;
      let closed = (): void => undefined;
      slowArrived = new Promise((resolve) => (arrived = resolve));
      slowClosed = new Promise((resolve) => (closed = resolve));
      // Never answers /slow: only undici ending the call closes its connection.
      server = createServer((request, response) => {
        if (request.url !== '/slow') {
          response.end('ok');
          return;
        }
        request.socket.once('close', closed);
        arrived();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
    });

    afterAll(async () => {
      await pool.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('ends an in-flight call on abort, with undici reporting it aborted and closing its connection', async () => {
      const cancel = new CallCancellation();
      const ended = new Promise<Error | null>((resolve) => {
        pool.stream(
          { method: 'GET', path: '/slow', signal: cancel },
          () => {
            throw new Error('no answer expected');
          },
          (error) => resolve(error),
        );
      });
      await slowArrived;
      cancel.abort();
      expect((await ended)?.name).toBe('AbortError');
      await slowClosed;
    });

    it('lets a call that completes remove the listener it added', async () => {
      class Recording extends CallCancellation {
        readonly events: string[] = [];
        override on(event: string, listener: () => void): this {
          this.events.push(`on:${event}`);
          return super.on(event, listener);
        }
        override removeListener(event: string, listener: () => void): this {
          this.events.push(`remove:${event}`);
          return super.removeListener(event, listener);
        }
      }
      const cancel = new Recording();
      const chunks: Buffer[] = [];
      const error = await new Promise<Error | null>((resolve) => {
        pool.stream(
          { method: 'GET', path: '/fast', signal: cancel },
          () =>
            new Writable({
              write(chunk: Buffer, _encoding, next) {
                chunks.push(chunk);
                next();
              },
            }),
          (failure) => resolve(failure),
        );
      });
      expect(error).toBeNull();
      expect(Buffer.concat(chunks).toString()).toBe('ok');
      expect(cancel.events).toEqual(['on:abort', 'remove:abort']);
    });
  });
});
