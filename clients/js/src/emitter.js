/**
 * A minimal typed-by-convention event emitter (no Node or DOM dependency).
 * @module
 */

export class Emitter {
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();

  /** Adds a listener; returns the function that removes it. */
  on(event, listener) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
  }

  /**
   * Calls every listener of `event`. A throwing listener must not break the client's frame
   * handling or starve the other listeners, so its error is rethrown on its own task, where
   * the browser's (or Node's) uncaught-error reporting sees it.
   */
  emit(event, payload) {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        queueMicrotask(() => { throw error; });
      }
    }
  }
}
