import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import { registeredTracer } from 'nestjs-v3-token-auth';

/** Name of the gateway's OpenTelemetry tracer. */
export const GATEWAY_TRACER = 'v3-gateway';

/** One proxied request's trace: its server span, and the context its grant, store and downstream spans join. */
export interface RequestTrace {
  span: Span;
  context: Context;
}

/** One downstream call's client span, and the propagation headers (W3C `traceparent`, …) that carry it. */
export interface CallTrace {
  span: Span;
  headers: Record<string, string>;
}

const headerGetter = {
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
};

/**
 * The proxy's spans: a SERVER span per proxied request (continuing the caller's trace), under which the token
 * module's grant and store spans run, and a CLIENT span per downstream call whose context goes downstream in
 * `traceparent`. Whether an OpenTelemetry SDK is registered is read once, at construction; without one every method
 * is skipped by its callers (`enabled` is false) and nothing is allocated per request.
 */
export class ProxyTracing {
  constructor(private readonly tracer: Tracer | undefined = registeredTracer(GATEWAY_TRACER)) {}

  /** Whether spans are recorded. */
  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /** Starts the SERVER span of a request on the route `prefix`, child of the caller's `traceparent` when it sent one. */
  startRequest(method: string, prefix: string, headers: IncomingHttpHeaders): RequestTrace | undefined {
    const tracer = this.tracer;
    if (tracer === undefined) return undefined;
    const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = tracer.startSpan(
      `${method} ${prefix}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': prefix } },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  /** Runs `work` with the request's span active: spans started inside (grant, store) become its children. */
  within<T>(request: RequestTrace, work: () => T): T {
    return context.with(request.context, work);
  }

  /** Ends the request's span with the status the caller got (5xx, or no complete answer, is an error). */
  endRequest(request: RequestTrace, status: number, completed: boolean): void {
    request.span.setAttribute('http.response.status_code', status);
    if (status >= 500 || !completed) {
      request.span.setStatus({ code: SpanStatusCode.ERROR, message: completed ? String(status) : 'aborted' });
    }
    request.span.end();
  }

  /** Starts the CLIENT span of one downstream call to `target` and the headers that propagate it. */
  startCall(request: RequestTrace, method: string, target: URL): CallTrace | undefined {
    const tracer = this.tracer;
    if (tracer === undefined) return undefined;
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': method,
          'server.address': target.hostname,
          'server.port': Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
        },
      },
      request.context,
    );
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(request.context, span), headers);
    return { span, headers };
  }

  /** Ends a downstream call's span: with the downstream's status, or as an error of `failure` (e.g. a timeout). */
  endCall(call: CallTrace, status: number | undefined, failure?: string): void {
    if (status !== undefined) call.span.setAttribute('http.response.status_code', status);
    if (failure !== undefined || (status !== undefined && status >= 500)) {
      const type = failure ?? String(status);
      call.span.setAttribute('error.type', type);
      call.span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    }
    call.span.end();
  }
}
