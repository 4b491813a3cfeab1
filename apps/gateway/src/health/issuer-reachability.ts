import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config.js';
import {
  probeTokenEndpoint,
  type TokenEndpointProbeResult,
  type TokenEndpointReachability,
} from './token-endpoint.probe.js';

/** A probe that did not find the endpoint is repeated, from `GET /health`, at most this often, ms. */
export const REPROBE_INTERVAL_MS = 30_000;
const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

/** The last probe's verdict, for `GET /health`. */
export interface IssuerReachabilityState {
  reachability: TokenEndpointReachability;
  detail?: string;
}

/**
 * Whether the token endpoint (`V3_TOKEN_URL`) is there, from `probeTokenEndpoint`: probed once at boot without
 * holding boot up (`probeInBackground`), logged as one warning line when it is not, and probed again in the
 * background, at most every 30 s, while `GET /health` keeps asking and it still is not.
 */
@Injectable()
export class IssuerReachability {
  private state: IssuerReachabilityState = { reachability: 'unknown' };
  private probing: Promise<TokenEndpointProbeResult> | undefined;
  private probedAt = -Infinity;
  private readonly tokenUrl: string;
  private readonly timeoutMs: number;
  private readonly logger = new Logger('IssuerProbe');
  /** The clock of the re-probe interval; replaced in specs. */
  now: () => number = () => performance.now();

  constructor(@Inject(ConfigService) config: ConfigService) {
    const gateway = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
    this.tokenUrl = gateway.tokenUrl;
    this.timeoutMs = gateway.tokenTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  }

  /** The last verdict; `unknown` before the first probe has answered. */
  get current(): IssuerReachabilityState {
    return this.state;
  }

  /** Probes now (one probe at a time) and logs one warning line when the endpoint is not found. */
  probe(): Promise<TokenEndpointProbeResult> {
    this.probedAt = this.now();
    this.probing ??= probeTokenEndpoint(this.tokenUrl, this.timeoutMs)
      .then((result) => {
        this.report(result);
        this.state = result;
        return result;
      })
      .finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** Starts a probe and returns at once: boot does not wait for the issuer. */
  probeInBackground(): void {
    void this.probe();
  }

  /** From `GET /health`: probes again in the background when the last probe did not find the endpoint and is stale. */
  refreshIfStale(): void {
    const missing = this.state.reachability === 'unreachable' || this.state.reachability === 'unexpected';
    if (!missing || this.probing) return;
    if (this.now() - this.probedAt >= REPROBE_INTERVAL_MS) this.probeInBackground();
  }

  private report(result: TokenEndpointProbeResult): void {
    const was = this.state.reachability;
    if (result.reachability === 'reachable') {
      if (was === 'unreachable' || was === 'unexpected')
        this.logger.log(`token endpoint ${this.tokenUrl} answers now`);
      return;
    }
    if (was === result.reachability) return;
    this.logger.warn(
      `token endpoint ${this.tokenUrl} is ${result.reachability} (${result.detail}): cached tokens keep working, ` +
        'callers that need a grant get 503 until it answers — check V3_TOKEN_URL',
    );
  }
}
