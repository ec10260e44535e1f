/**
 * The close-code catalogue of PROTOCOL §6 and what each class tells a client to do.
 * @module
 */

/** WebSocket close codes the broker uses (plus 1006, which only a client ever reports). */
export const CloseCodes = Object.freeze({
  Normal: 1000,
  GoingAway: 1001,
  /** Reported locally when the connection ended without a close frame (network, watchdog). */
  Abnormal: 1006,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  Unauthorized: 4401,
  Forbidden: 4403,
  SlowConsumer: 4508,
});

/**
 * What to do after the server (or the network) ended a connection with `code`.
 * - `'stop'`: 1000 and 4000–4499 except 4401: do not reconnect without new credentials.
 * - `'reauth'`: 4401: the credential was refused or expired; one retry with a fresh token is allowed.
 * - `'reconnect'`: everything else (4500–4999, 1001, 1011, 1006, 1008, 1009, …): back off and recover.
 * @param {number} code
 * @returns {'stop' | 'reauth' | 'reconnect'}
 */
export function closeAction(code) {
  if (code === CloseCodes.Normal) return 'stop';
  if (code === CloseCodes.Unauthorized) return 'reauth';
  if (code >= 4000 && code <= 4499) return 'stop';
  return 'reconnect';
}
