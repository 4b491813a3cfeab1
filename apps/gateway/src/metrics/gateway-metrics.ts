import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  systemClock,
  type V3CacheTier,
  type V3GrantOutcome,
  type V3GrantRefusal,
  type V3ThrottleReason,
  type V3TokenAuthObserver,
} from 'nestjs-v3-token-auth';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { WarningAggregator } from '../logging/warning-aggregator.js';
import { EDGE_REFUSAL_REASONS, EDGE_REFUSAL_TEXT, type EdgeRefusalReason } from '../proxy/edge-refusal.js';
import { ProxyLatencyHistogram } from './proxy-latency-histogram.js';

type BreakerState = 'closed' | 'open' | 'half_open';

/** `v3_token_breaker_state` values. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A store failing under an outage reports every request; the log says so once per operation per interval. */
const STORE_ERROR_LOG_INTERVAL_MS = 10_000;

/** Throttle and refusal warnings: one line per client (or caller address) per window, with the count. */
export const WARNING_WINDOW_MS = 60_000;

const THROTTLE_REASONS: readonly V3ThrottleReason[] = ['address', 'client'];

const THROTTLE_TEXT: Record<V3ThrottleReason, string> = {
  address: "its caller address's limit",
  client: "the client's own limit",
};

/** One series per value of a bounded `reason` label, each exposed (at 0) from the start. */
function seriesOf<Reason extends string>(
  counter: Counter<'reason'>,
  reasons: readonly Reason[],
): Map<Reason, { inc(): void }> {
  const series = new Map<Reason, { inc(): void }>();
  for (const reason of reasons) {
    const labelled = counter.labels(reason);
    labelled.inc(0);
    series.set(reason, labelled);
  }
  return series;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own (default process metrics included). It is the
 * `V3TokenAuthObserver` given to the token module, and the proxy records its latency and edge refusals here.
 * Warnings an attacker can repeat (throttled clients, edge refusals) go through a {@link WarningAggregator}: one
 * line per client or caller address per `WARNING_WINDOW_MS`, then one line with the count.
 */
@Injectable()
export class GatewayMetrics implements V3TokenAuthObserver, OnModuleDestroy {
  readonly registry = new Registry();

  private readonly grants = new Counter({
    name: 'v3_token_grants_total',
    help: 'Calls to the token endpoint, by outcome and grant type',
    labelNames: ['outcome', 'grant_type'] as const,
    registers: [this.registry],
  });
  private readonly grantDuration = new Histogram({
    name: 'v3_token_grant_duration_seconds',
    help: 'Duration of calls to the token endpoint',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /**
   * Hits since the last scrape, by tier: the warm path counts one per request, and prom-client's labelled `inc` (a
   * label hash built as a string, then looked up) cost it more than the in-process cache lookup it counts.
   */
  private readonly pendingHits: Record<V3CacheTier, number> = { memory: 0, store: 0, bearer: 0 };
  private readonly cacheHits = new Counter({
    name: 'v3_token_cache_hits_total',
    help: 'Principals served from a cache, by tier (memory, store, bearer)',
    labelNames: ['tier'] as const,
    registers: [this.registry],
    collect: () => this.foldHits(),
  });
  private readonly cacheMisses = new Counter({
    name: 'v3_token_cache_misses_total',
    help: 'Credentials that found no fresh cached token',
    registers: [this.registry],
  });
  private readonly singleFlightWaiters = new Counter({
    name: 'v3_token_singleflight_waiters_total',
    help: 'Requests that waited for a grant already in flight in this process',
    registers: [this.registry],
  });
  private readonly lockWaits = new Counter({
    name: 'v3_token_lock_waits_total',
    help: 'Cross-instance grant lock outcomes (acquired, picked_up, timeout, fallback)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly breaker = new Gauge({
    name: 'v3_token_breaker_state',
    help: 'Circuit breaker of the token endpoint: 0 closed, 1 half-open, 2 open',
    registers: [this.registry],
  });
  private readonly throttledTotal = new Counter({
    name: 'v3_token_throttled_total',
    help: "Requests refused with 429 after too many wrong secrets, by the limit that stopped them (the caller address's, the client's)",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly edgeRefusals = new Counter({
    name: 'gateway_edge_refusals_total',
    help: 'Requests the edge answered itself, by reason: bad_path 400, bad_host 400, bad_version 505, bad_encoding 501, method 405, client_cap 429, queue_timeout 503, body_idle_timeout and request_timeout 408',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly grantsRefused = new Counter({
    name: 'v3_token_grants_refused_total',
    help: 'Grants answered 429 without calling the issuer, by reason (issuer_throttled, cold_grant_limit)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly issuerQueueWaiting = new Gauge({
    name: 'v3_token_issuer_queue_waiting',
    help: 'Calls waiting for a connection to the token endpoint',
    registers: [this.registry],
  });
  private readonly issuerQueueRejections = new Counter({
    name: 'v3_token_issuer_queue_rejected_total',
    help: 'Calls answered 503 because the token endpoint queue was full or the wait too long, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly storeErrors = new Counter({
    name: 'v3_token_store_errors_total',
    help: 'Failed token store operations, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  private readonly refreshes = new Counter({
    name: 'v3_token_refresh_ahead_total',
    help: 'Background renewals of tokens near their expiry, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly reauthCooldowns = new Counter({
    name: 'gateway_reauth_cooldown_total',
    help: "Grants answered 401 without calling the issuer because a downstream refused these credentials' token and the one re-grant of GATEWAY_REAUTH_COOLDOWN_MS is spent (requests that joined such a grant in flight count once)",
    registers: [this.registry],
  });
  private readonly proxyDuration = new ProxyLatencyHistogram({
    name: 'gateway_proxy_duration_seconds',
    help: 'Proxied requests, from arrival to the end of the response, by route prefix, method and status',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  private readonly throttledByReason = seriesOf(this.throttledTotal, THROTTLE_REASONS);
  private readonly refusalsByReason = seriesOf(this.edgeRefusals, EDGE_REFUSAL_REASONS);
  private readonly storeErrorLoggedAt = new Map<string, number>();
  private readonly logger = new Logger('V3TokenAuth');
  private readonly edgeLogger = new Logger('GatewayEdge');
  private readonly throttleWarnings = new WarningAggregator({
    windowMs: WARNING_WINDOW_MS,
    clock: systemClock,
    write: (line) => this.logger.warn(line),
  });
  private readonly refusalWarnings = new WarningAggregator({
    windowMs: WARNING_WINDOW_MS,
    clock: systemClock,
    write: (line) => this.edgeLogger.warn(line),
  });
  private readonly unavailableWarnings = new WarningAggregator({
    windowMs: WARNING_WINDOW_MS,
    clock: systemClock,
    write: (line) => this.logger.warn(line),
  });
  private readonly warningFlush = setInterval(() => this.flushWarnings(false), WARNING_WINDOW_MS).unref();

  constructor() {
    // prom-client's Metric type names only its own classes; the Registry reads just name, type, get*() and reset().
    this.registry.registerMetric(this.proxyDuration as unknown as Metric);
    collectDefaultMetrics({ register: this.registry });
    this.breaker.set(BREAKER_STATE_VALUE.closed);
  }

  /** Writes the counts of the warnings still aggregated (`all`: every window, at shutdown). */
  flushWarnings(all = true): void {
    this.throttleWarnings.flush(all);
    this.refusalWarnings.flush(all);
    this.unavailableWarnings.flush(all);
  }

  onModuleDestroy(): void {
    clearInterval(this.warningFlush);
    this.flushWarnings(true);
  }

  grant(outcome: V3GrantOutcome, grantType: string, durationMs: number): void {
    this.grants.inc({ outcome, grant_type: grantType });
    if (outcome !== 'circuit_open') this.grantDuration.observe(durationMs / 1000);
  }

  /** Counts a hit with one addition; the counter gets it when it is read (`foldHits`). */
  cacheHit(tier: V3CacheTier): void {
    this.pendingHits[tier] = (this.pendingHits[tier] ?? 0) + 1;
  }

  cacheMiss(): void {
    this.cacheMisses.inc();
  }

  singleFlightWait(): void {
    this.singleFlightWaiters.inc();
  }

  lockWait(outcome: 'acquired' | 'picked_up' | 'timeout' | 'fallback'): void {
    this.lockWaits.inc({ outcome });
    if (outcome === 'timeout') {
      this.logger.warn("Waited too long for another instance's grant; granting here instead");
    } else if (outcome === 'fallback') {
      this.logger.warn('Grant lock unavailable (token store down); granting without it');
    }
  }

  breakerState(state: BreakerState): void {
    this.breaker.set(BREAKER_STATE_VALUE[state]);
    const message = `Token endpoint circuit breaker is ${state.replace('_', '-')}`;
    if (state === 'closed') this.logger.log(message);
    else this.logger.warn(message);
  }

  throttled(clientId: string, reason: V3ThrottleReason = 'client'): void {
    (this.throttledByReason.get(reason) ?? this.throttledTotal.labels(reason)).inc();
    const client = JSON.stringify(clientId);
    this.throttleWarnings.warn(
      client,
      `Client ${client} throttled after too many wrong secrets (${THROTTLE_TEXT[reason] ?? reason})`,
    );
  }

  /**
   * A caller was answered `status` (5xx) because the gateway could not get a token, for `reason` (the exception's
   * message: a bounded set, never a secret). One line per status and reason a minute, with the first request's id;
   * the repeats are counted into one summary line, so an issuer outage under load is not a line per request.
   */
  tokenUnavailable(requestId: string, status: number, reason: string): void {
    if (this.unavailableWarnings.admit(`${status} ${reason}`, `Token unavailable (${status}): ${reason}`))
      this.logger.warn({ reqId: requestId, status, reason }, 'token unavailable');
  }

  /** The edge answered a request of `callerAddress` itself, for `reason` (never a path or credential here). */
  edgeRefused(reason: EdgeRefusalReason, callerAddress: string): void {
    this.refusalsByReason.get(reason)?.inc();
    this.refusalWarnings.warn(
      `${reason} ${callerAddress}`,
      `Refused a request from ${callerAddress || 'an unknown address'}: ${EDGE_REFUSAL_TEXT[reason]}`,
    );
  }

  /** A grant stopped before the issuer: 429s by reason; a re-grant cooldown's 401 in `gateway_reauth_cooldown_total`. */
  grantRefused(reason: V3GrantRefusal): void {
    if (reason === 'reauth_cooldown') this.reauthCooldowns.inc();
    else this.grantsRefused.inc({ reason });
  }

  issuerQueue(waiting: number): void {
    this.issuerQueueWaiting.set(waiting);
  }

  issuerQueueRejected(reason: 'full' | 'waited_too_long'): void {
    this.issuerQueueRejections.inc({ reason });
  }

  storeError(operation: string, message: string): void {
    this.storeErrors.inc({ operation });
    const now = Date.now();
    if (now - (this.storeErrorLoggedAt.get(operation) ?? 0) < STORE_ERROR_LOG_INTERVAL_MS) return;
    this.storeErrorLoggedAt.set(operation, now);
    this.logger.warn(`Token store ${operation} failed: ${message}`);
  }

  refreshAhead(outcome: 'started' | 'success' | 'failed'): void {
    this.refreshes.inc({ outcome });
    if (outcome === 'failed')
      this.logger.warn('Background token renewal failed; the current token keeps serving');
  }

  /**
   * Records one proxied request (methods outside the standard set count as `OTHER`; a non-finite or negative
   * duration is ignored). Once the route, method and status have been seen, this allocates nothing.
   */
  observeProxy(route: string, method: string, status: number, seconds: number): void {
    this.proxyDuration.observe(route, KNOWN_METHODS.has(method) ? method : 'OTHER', status, seconds);
  }

  /** Adds the hits counted since the last read to the cache-hit counter (prom-client calls it on every read). */
  private foldHits(): void {
    const pending = this.pendingHits;
    for (const tier of Object.keys(pending) as V3CacheTier[]) {
      if (pending[tier] === 0) continue;
      this.cacheHits.inc({ tier }, pending[tier]);
      pending[tier] = 0;
    }
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
