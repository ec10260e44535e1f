/**
 * The one error type the client rejects with and emits.
 * @module
 */

/**
 * An error with a machine-readable `code`: a server error code (`bad_request`, `unauthorized`,
 * `forbidden`, `not_found`, `too_large`, `rate_limited`, `internal`) or a client one
 * (`timeout`, `disconnected`, `closed`, `not_connected`, `token_error`, `ticket_error`).
 */
export class BrokerError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {{ room?: string, closeCode?: number, cause?: unknown }} [details]
   */
  constructor(code, message, details = {}) {
    super(message || code, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BrokerError';
    this.code = code;
    if (details.room !== undefined) this.room = details.room;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
  }
}
