import { STATUS_CODES } from 'node:http';

/**
 * A whole HTTP/1.1 answer carrying the JSON `body` that closes its connection, for a socket no response object
 * answers on (a `CONNECT`, a request node:http could not parse).
 */
export function rawJsonAnswer(status: number, body: string): string {
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
