import { describe, it, expect } from '@jest/globals';
import { NotFoundException } from '@nestjs/common';
import {
  V3BadRequestException,
  V3InvalidCredentialsException,
  V3IssuerUnavailableException,
  V3TooManyAttemptsException,
  V3UnauthorizedException,
} from 'nestjs-v3-token-auth';
import { toErrorReply, toOAuthErrorReply } from './error-reply.js';

describe('toErrorReply', () => {
  it('keeps the body and headers of a V3TokenException', () => {
    expect(toErrorReply(new V3UnauthorizedException('Missing Authorization header'))).toEqual({
      status: 401,
      headers: { 'WWW-Authenticate': 'Basic realm="v3-token", Bearer realm="v3-token"' },
      body: {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Missing Authorization header',
        oauthError: 'invalid_client',
      },
    });
    expect(toErrorReply(new V3IssuerUnavailableException('down', 7)).headers).toEqual({ 'Retry-After': '7' });
  });

  it('keeps the status of other HttpExceptions and of Fastify 4xx errors', () => {
    expect(toErrorReply(new NotFoundException('Cannot GET /x'))).toMatchObject({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'Cannot GET /x' },
    });
    const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413 });
    expect(toErrorReply(tooLarge)).toMatchObject({ status: 413, body: { error: 'Payload Too Large' } });
  });

  it('answers anything else as a 500 that reveals nothing', () => {
    expect(toErrorReply(new Error('password=hunter2 at db'))).toEqual({
      status: 500,
      headers: {},
      body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
    });
  });
});

describe('toOAuthErrorReply', () => {
  it('answers { error, error_description } with the OAuth code of the exception', () => {
    expect(toOAuthErrorReply(new V3BadRequestException('grant_type is required'))).toEqual({
      status: 400,
      headers: {},
      body: { error: 'invalid_request', error_description: 'grant_type is required' },
    });
    const refused = toOAuthErrorReply(
      new V3InvalidCredentialsException(401, 'invalid_client', 'Invalid client'),
    );
    expect(refused.status).toBe(401);
    expect(refused.headers['WWW-Authenticate']).toMatch(/^Basic/);
    expect(refused.body.error).toBe('invalid_client');
  });

  it('answers a refused user grant (invalid_grant) as 400 without WWW-Authenticate (RFC 6749 §5.2)', () => {
    expect(
      toOAuthErrorReply(new V3InvalidCredentialsException(400, 'invalid_grant', 'Invalid user credentials')),
    ).toEqual({
      status: 400,
      headers: {},
      body: { error: 'invalid_grant', error_description: 'invalid_grant: Invalid user credentials' },
    });
  });

  it('maps statuses without an OAuth code, and keeps Retry-After', () => {
    const slow = toOAuthErrorReply(new V3TooManyAttemptsException(12));
    expect(slow).toMatchObject({
      status: 429,
      headers: { 'Retry-After': '12' },
      body: { error: 'slow_down' },
    });
    const media = Object.assign(new Error('Unsupported Media Type'), { statusCode: 415 });
    expect(toOAuthErrorReply(media)).toMatchObject({ status: 415, body: { error: 'invalid_request' } });
    expect(toOAuthErrorReply(new Error('boom'))).toMatchObject({
      status: 500,
      body: { error: 'server_error' },
    });
  });
});
