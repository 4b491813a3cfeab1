import { connect, type Socket } from 'node:net';

/** One HTTP answer read from a raw socket: status, headers (lower-case names) and body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, when it is a JSON object. */
  body: Record<string, unknown> | undefined;
}

/**
 * One HTTP/1.1 request over a raw socket bound to `localAddress` (e.g. `127.0.0.2`), so the server sees that caller
 * address. The connection is closed after the answer.
 */
export async function rawHttp(url: string, localAddress: string, request: RawRequest): Promise<RawAnswer> {
  const [answer] = await rawHttpBurst(url, [{ localAddress, request }]);
  return answer;
}

/** One request of a burst. */
export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Many HTTP/1.1 requests sent at once: every socket (bound to its `localAddress`) is connected first, then every
 * request is written in the same event-loop turn, so the server receives them together, as an attack would send them.
 */
export async function rawHttpBurst(
  url: string,
  requests: { localAddress: string; request: RawRequest }[],
): Promise<RawAnswer[]> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(
    requests.map(
      ({ localAddress }) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host: hostname, port: Number(port), localAddress });
          socket.once('connect', () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(
    (socket) =>
      new Promise<RawAnswer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => resolve(parse(Buffer.concat(chunks).toString('utf8'))));
      }),
  );
  sockets.forEach((socket, i) => socket.write(serialize(hostname, port, requests[i].request)));
  return Promise.all(answers);
}

function serialize(hostname: string, port: string, request: RawRequest): string {
  const body = request.body ?? '';
  const headers = {
    host: `${hostname}:${port}`,
    connection: 'close',
    'content-length': String(Buffer.byteLength(body)),
    ...request.headers,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `${request.method} ${request.path} HTTP/1.1\r\n${head}\r\n${body}`;
}

/** A `POST /token` request with a form body. */
export function tokenRequest(form: Record<string, string>): RawRequest {
  return {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  };
}

/** `POST /token` with a form body from `localAddress`. */
export function rawTokenRequest(
  url: string,
  localAddress: string,
  form: Record<string, string>,
): Promise<RawAnswer> {
  return rawHttp(url, localAddress, tokenRequest(form));
}

function parse(text: string): RawAnswer {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  let payload = split === -1 ? '' : text.slice(split + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers['transfer-encoding'] === 'chunked') payload = unchunk(payload);
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(payload);
    body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    body = undefined;
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, text: payload, body };
}

function unchunk(payload: string): string {
  let out = '';
  let rest = payload;
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, end), 16);
    if (!(size > 0)) return out;
    out += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}
