import { Redis, type Cluster } from 'ioredis';

type Corkable = Pick<Redis['stream'], 'cork' | 'uncork' | 'writable'>;

/**
 * Coalesces the commands a standalone or Sentinel client writes in one turn of the event loop into one socket write,
 * flushed in the same turn (`setImmediate`), as node-redis does with `cork()`.
 *
 * It stands in for ioredis' `enableAutoPipelining`, which batches as well but allocates a pipeline and several
 * promises per command that outlive young-generation collections: on a Redis hit per request that cost more CPU in
 * garbage collection than the batching saved. Clients with auto-pipelining on, and Cluster clients (one socket per
 * node), are left to ioredis.
 */
export class RedisWriteCoalescer {
  private corked: Corkable | undefined;
  private readonly flush = (): void => {
    const stream = this.corked;
    this.corked = undefined;
    stream?.uncork();
  };

  constructor(private readonly client: Redis | Cluster) {}

  /** Call before sending a command: the first one in a turn corks the socket, the turn's end writes them all. */
  beforeCommand(): void {
    if (this.corked !== undefined || !(this.client instanceof Redis)) return;
    if (this.client.options.enableAutoPipelining) return;
    const stream: Corkable | undefined = this.client.stream;
    if (stream === undefined || !stream.writable) return;
    stream.cork();
    this.corked = stream;
    setImmediate(this.flush);
  }
}
