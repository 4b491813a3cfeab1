import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER, requestIdOf } from '../logging/request-id.js';
import type { HeadProblem } from '../proxy/request-head.js';
import { plainErrorBody } from './error-reply.js';

/**
 * The gateway's JSON answers that a listener gives before any router sees the request: node:http's own for the same
 * cases (a missing `Host`, an `Expect` other than 100-continue) are bare status lines with no body.
 */

const EXPECTATION_FAILED = JSON.stringify(
  plainErrorBody(417, 'The only Expect the gateway meets is 100-continue'),
);

function answerJson(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: string,
  close: boolean,
): void {
  response.setHeader(REQUEST_ID_HEADER, requestIdOf(request));
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(body);
}

/** A listener's `checkExpectation`: a JSON 417 for an `Expect` other than 100-continue. */
export function answerExpectationFailed(request: IncomingMessage, response: ServerResponse): void {
  answerJson(request, response, 417, EXPECTATION_FAILED, false);
}

/** Refuses a request whose head is wrong (`headProblemOf`): its JSON error, and the connection closed after it. */
export function answerHeadProblem(
  request: IncomingMessage,
  response: ServerResponse,
  problem: HeadProblem,
): void {
  const { status, message } = problem;
  answerJson(request, response, status, JSON.stringify(plainErrorBody(status, message)), true);
}
