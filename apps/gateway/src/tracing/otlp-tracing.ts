import { context, propagation, trace } from '@opentelemetry/api';
import { GatewayConfigError } from '../config/gateway.config.js';

/** Tracing the gateway started for itself, until `shutdown` flushes the spans still buffered. */
export interface OtlpTracing {
  /** Where spans go (`…/v1/traces`). */
  endpoint: string;
  /** Exports the spans still buffered and stops tracing. */
  shutdown(): Promise<void>;
}

/** The packages the OTLP bootstrap loads (optional dependencies of the gateway). */
export const OTLP_TRACING_PACKAGES = [
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-trace-otlp-http',
] as const;

function tracesEndpoint(
  env: Record<string, string | undefined>,
): { variable: string; url: string } | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return { variable: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', url: traces };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return { variable: 'OTEL_EXPORTER_OTLP_ENDPOINT', url: `${base.replace(/\/+$/, '')}/v1/traces` };
  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Turns tracing on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and
 * `OTEL_SDK_DISABLED` is not `true`: registers an OpenTelemetry tracer provider whose spans go in batches to the
 * collector over OTLP/HTTP, the async-hooks context manager and the W3C trace-context propagator. The service is
 * named by `OTEL_SERVICE_NAME` (default `v3-gateway`). Call it before the app is created: the gateway and the token
 * module look for a registered provider once, when they are built. Undefined when tracing stays off.
 * @example OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 node dist/apps/gateway/main.js
 */
export async function startOtlpTracing(
  env: Record<string, string | undefined>,
): Promise<OtlpTracing | undefined> {
  const target = tracesEndpoint(env);
  if (target === undefined || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (!isHttpUrl(target.url)) {
    throw new GatewayConfigError(
      `${target.variable}: use the http(s) URL of an OTLP/HTTP collector, e.g. http://collector:4318`,
    );
  }
  let packages;
  try {
    packages = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/exporter-trace-otlp-http'),
    ]);
  } catch {
    throw new GatewayConfigError(
      `${target.variable}: tracing needs the optional packages ${OTLP_TRACING_PACKAGES.join(', ')} — install them (npm install without --omit=optional) or unset ${target.variable}`,
    );
  }
  const [sdk, hooks, core, resources, otlp] = packages;
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME?.trim() || 'v3-gateway',
    }),
    spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: target.url }))],
  });
  context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    endpoint: target.url,
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
