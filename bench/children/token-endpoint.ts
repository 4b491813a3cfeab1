import { startBenchTokenEndpoint } from '../token-endpoint.js';
import { envNumber } from '../settings.js';
import { announceListening } from './child-ipc.js';

const endpoint = await startBenchTokenEndpoint({
  grantDelayMs: envNumber('BENCH_GRANT_DELAY_MS', 0),
  tokenTtlSeconds: envNumber('BENCH_TOKEN_TTL_S', 3600),
});
announceListening(endpoint.port);
