import { connect, type Socket } from 'node:net';

/** An HTTP/1.1 answer as read off a raw socket. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Options of a raw connection. */
export interface RawConnectOptions {
  /** Local address to bind the client socket to (`127.0.0.2`, `127.0.0.3`: another caller address). */
  localAddress?: string;
}

/** Opens a TCP connection to `127.0.0.1:port`, resolved once connected. */
export function rawConnect(port: number, options: RawConnectOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: options.localAddress }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Parses the first answer in `text` (head and a `Content-Length` body), or `undefined` while it is incomplete. */
export function parseAnswer(text: string): RawAnswer | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(headEnd + 4);
  const length = headers['content-length'];
  if (length !== undefined && Buffer.byteLength(body) < Number(length)) return undefined;
  return { status: Number(statusLine?.split(' ')[1]), headers, body };
}

/** Resolves with the first complete answer read from `socket`, or rejects when it closes before one. */
export function readAnswer(socket: Socket): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const answer = parseAnswer(text);
      if (answer) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(answer);
      }
    };
    const onClose = (): void => {
      const answer = parseAnswer(text);
      if (answer) resolve(answer);
      else reject(new Error(`connection closed before a complete answer: ${JSON.stringify(text)}`));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Sends `head` (request line and headers, no final blank line) plus `body` on a new connection; reads the answer. */
export async function rawRequest(
  port: number,
  head: string,
  options: RawConnectOptions & { body?: string } = {},
): Promise<RawAnswer> {
  const socket = await rawConnect(port, options);
  try {
    const answer = readAnswer(socket);
    socket.write(`${head}\r\nConnection: close\r\n\r\n${options.body ?? ''}`);
    return await answer;
  } finally {
    socket.destroy();
  }
}
