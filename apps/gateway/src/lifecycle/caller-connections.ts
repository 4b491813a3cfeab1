import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** What node:http keeps on a connection while an answer is in progress on it. */
type HttpSocket = Socket & { _httpMessage?: { finished?: boolean } | null };

/**
 * The caller connections of a listener, so that a shutdown can end every one with no answer in progress. Node's
 * `closeIdleConnections` leaves two kinds open: a connection that has sent nothing yet and one that is still sending
 * a request head; and `close()` stops the headers-timeout checks that would otherwise end them, so either would hold a
 * shutdown open until its deadline.
 */
export class CallerConnections {
  private readonly open = new Set<HttpSocket>();

  constructor(server: Server) {
    server.on('connection', (socket: HttpSocket) => {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    });
  }

  /** Ends every connection with no answer in progress: idle, silent, or still sending its request head. */
  endQuiet(): void {
    for (const socket of this.open) {
      const answer = socket._httpMessage;
      if (answer && !answer.finished) continue;
      socket.destroy();
    }
  }
}
