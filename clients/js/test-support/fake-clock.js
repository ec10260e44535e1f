/**
 * A virtual clock for the client's `now`/`setTimeout`/`clearTimeout`/`random` options:
 * time only moves when a test calls advance(), so timing assertions are exact.
 */
export class FakeClock {
  #now;
  #timers = new Map();
  #nextHandle = 1;
  /** Values random() returns in turn (the last one repeats). */
  randomValues = [0];
  #randomIndex = 0;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now = () => this.#now;

  setTimeout = (fn, ms = 0) => {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn, handle });
    return handle;
  };

  clearTimeout = (handle) => {
    this.#timers.delete(handle);
  };

  random = () => {
    const value = this.randomValues[Math.min(this.#randomIndex, this.randomValues.length - 1)];
    this.#randomIndex++;
    return value;
  };

  /** The options to spread into a BrokerClient. */
  get options() {
    return { now: this.now, setTimeout: this.setTimeout, clearTimeout: this.clearTimeout, random: this.random };
  }

  /** Delays of the timers still pending, from now, soonest first. */
  get pendingDelays() {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order (timers they schedule fire too if
   * due). Awaits the microtask queue between timers, so async continuations run as they would.
   */
  async advance(ms) {
    const target = this.#now + ms;
    // A client that keeps re-arming a due timer would spin here forever; fail loudly instead.
    for (let fired = 0; ; fired++) {
      if (fired > 10_000) throw new Error('more than 10000 timers fired in one advance(): a timer loop');
      await flush();
      const next = [...this.#timers.values()].filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.handle - b.handle)[0];
      if (!next) break;
      this.#timers.delete(next.handle);
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
    await flush();
  }
}

/**
 * Lets every pending promise continuation run. It waits for a macrotask turn, not for time:
 * nothing in the client under test uses real timers, so this is not a sleep.
 */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}
