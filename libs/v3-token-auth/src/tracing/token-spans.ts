import {
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/** Name of the module's OpenTelemetry tracer. */
export const V3_TOKEN_AUTH_TRACER = 'nestjs-v3-token-auth';

/**
 * The tracer of the tracer provider the app registered (an OpenTelemetry SDK), or undefined while none is. Without an
 * SDK the API would hand out non-recording spans; callers that get undefined skip spans altogether instead.
 * @example const tracer = registeredTracer('my-app'); if (tracer) tracer.startActiveSpan('work', (span) => span.end());
 */
export function registeredTracer(name: string): Tracer | undefined {
  const provider = trace.getTracerProvider();
  // The global provider is a proxy; its delegate is the SDK's provider, absent until one is registered.
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(name);
  return provider.getTracer(name);
}

/**
 * Spans around the module's I/O: token endpoint grants and shared-store operations, as children of the active span.
 * Whether an SDK is registered is read once, at construction; without one `run` only calls the operation.
 */
export class TokenSpans {
  constructor(private readonly tracer: Tracer | undefined = registeredTracer(V3_TOKEN_AUTH_TRACER)) {}

  /** Whether spans are recorded (an SDK was registered when this was built). */
  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /**
   * Runs `operation` inside a span named `name` (kind CLIENT) carrying `attributes`; a rejection marks the span as an
   * error with the error's name (never its message, which may quote an issuer).
   */
  run<T>(name: string, attributes: Attributes, operation: (span?: Span) => Promise<T>): Promise<T> {
    const tracer = this.tracer;
    if (tracer === undefined) return operation();
    return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        return await operation(span);
      } catch (error) {
        const type = error instanceof Error ? error.name : 'Error';
        span.setAttribute('error.type', type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
        throw error;
      } finally {
        span.end();
      }
    });
  }
}
