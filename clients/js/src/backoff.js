/**
 * Exponential backoff with jitter for reconnects and for retries of `unavailable` requests.
 * @module
 */

/** Reconnect defaults; `maxAttempts` counts consecutive failed attempts since the last `welcome`. */
export const DefaultReconnect = Object.freeze({
  initialDelay: 500,
  maxDelay: 15000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

/**
 * Retries of a request the server answered with `unavailable` (PROTOCOL §9.1: not served now,
 * never applied, retry with backoff). `maxAttempts` counts every send of the request, the first
 * included; `maxElapsed` bounds the time from the first send to the last retry, ms. The delays
 * follow backoffDelay() with these `initialDelay`, `maxDelay`, `factor` and `jitter`.
 */
export const DefaultRetry = Object.freeze({
  initialDelay: 200,
  maxDelay: 5000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: 10,
  maxElapsed: 30000,
});

/**
 * The delay before reconnect attempt number `attempt` (0 = the first retry).
 * The base grows `initialDelay · factor^attempt` up to `maxDelay`; jitter then takes a random
 * share of up to `jitter` off it, so the result lies in `[base · (1 − jitter), base]` and never
 * exceeds `maxDelay`. Taking off rather than adding keeps the cap a real cap, and spreading the
 * retries stops every client of a restarted node from reconnecting in the same instant.
 * @param {number} attempt
 * @param {{ initialDelay: number, maxDelay: number, factor: number, jitter: number }} options
 * @param {() => number} [random] a source in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, options, random = Math.random) {
  const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** Math.max(0, attempt));
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.round(base * (1 - jitter * random()));
}
