import type { Socket } from 'node:net';
import { plainErrorBody } from './error-reply.js';
import { rawJsonAnswer } from './raw-json-answer.js';

const LINE_ENDINGS = 'The request ends its lines with something other than CRLF';

/** What the parser found wrong, by Node's error code: the status and a message that names the problem. */
const PROBLEMS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'The request head or the whole request took longer than the gateway waits (GATEWAY_HEADERS_TIMEOUT_MS, GATEWAY_REQUEST_TIMEOUT_MS)',
  ],
  HPE_HEADER_OVERFLOW: [431, 'The request head is larger than the gateway accepts (16 KB)'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [
    400,
    'The request has a repeated Content-Length, or one beside Transfer-Encoding; send one length',
  ],
  // llhttp also answers a Content-Length after a Transfer-Encoding with this code.
  HPE_INVALID_CONTENT_LENGTH: [
    400,
    'The request has a Content-Length that is not a number, or one beside Transfer-Encoding; send one length',
  ],
  HPE_INVALID_TRANSFER_ENCODING: [
    400,
    'The request has a Transfer-Encoding beside Content-Length, or one whose last coding is not chunked',
  ],
  HPE_INVALID_CHUNK_SIZE: [400, 'The request body has an invalid chunk size'],
  HPE_INVALID_HEADER_TOKEN: [
    400,
    'A request header name or value holds a character HTTP does not allow (or a folded line)',
  ],
  HPE_INVALID_METHOD: [400, 'The request method is not a valid HTTP method'],
  HPE_INVALID_URL: [400, 'The request target is not a valid URL'],
  HPE_INVALID_VERSION: [400, 'The request line does not name HTTP/1.0 or HTTP/1.1'],
  HPE_LF_EXPECTED: [400, LINE_ENDINGS],
  HPE_CR_EXPECTED: [400, LINE_ENDINGS],
  HPE_STRICT: [400, LINE_ENDINGS],
  HPE_INVALID_EOF_STATE: [400, 'The connection ended in the middle of the request'],
};

/**
 * Answers a request node:http could not parse, or that took too long (its `clientError`), with the gateway's JSON
 * error naming the problem, then ends the connection; nothing is written once an answer has started on it (a request
 * timeout while a response streams), and nothing of the request is echoed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && answering?.headersSent !== true) {
    const [status, message] = PROBLEMS[error.code ?? ''] ?? [
      400,
      `The request is not valid HTTP/1.1 (${String(error.code ?? 'unparsable')})`,
    ];
    socket.write(rawJsonAnswer(status, JSON.stringify(plainErrorBody(status, message))));
  }
  socket.destroy();
}
