import type { Cluster, Redis } from 'ioredis';

type Corkable = Pick<Redis['stream'], 'cork' | 'uncork' | 'writable'>;

/**
 * Coalesces the commands a client writes in one turn of the event loop into one write per socket, flushed in the same
 * turn (`setImmediate`), as node-redis does with `cork()`. On a Cluster every node's socket is corked for the turn.
 *
 * It stands in for ioredis' `enableAutoPipelining`, which batches as well but allocates a pipeline and several
 * promises per command that outlive young-generation collections: with a Redis hit per request that garbage cost more
 * CPU than the batching saved. A client with auto-pipelining on is left to ioredis.
 */
export class RedisWriteCoalescer {
  private corked: Corkable[] | undefined;
  private readonly flush = (): void => {
    const streams = this.corked ?? [];
    this.corked = undefined;
    for (const stream of streams) stream.uncork();
  };

  constructor(private readonly client: Redis | Cluster) {}

  /** Call before sending a command: the first one in a turn corks the sockets, the turn's end writes them. */
  beforeCommand(): void {
    if (this.corked !== undefined || this.client.options.enableAutoPipelining) return;
    const streams = this.sockets().filter((stream): stream is Corkable => stream?.writable === true);
    if (streams.length === 0) return;
    for (const stream of streams) stream.cork();
    this.corked = streams;
    setImmediate(this.flush);
  }

  private sockets(): Array<Corkable | undefined> {
    if (!('nodes' in this.client)) return [this.client.stream];
    return this.client.nodes('all').map((node) => node.stream);
  }
}
