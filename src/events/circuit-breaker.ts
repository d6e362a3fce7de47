/**
 * A circuit breaker per destination: closed → open → half-open → closed.
 *
 * Why: without it, a CRM that is down costs one timed-out call per due delivery per key, so an
 * outage burns every delivery's attempt budget in minutes and parks events that only needed
 * patience. Open, the dispatcher stops claiming for that subscription (nothing is attempted, no
 * attempt is counted); after `openMs` one probe goes through (half-open) and its outcome
 * decides: a success closes it (the dispatcher then makes the subscription's waiting deliveries
 * due at once), a health failure opens it for another `openMs`. Only failures that say
 * something about the destination's health count (transient, downstream_outage); a
 * data_quality refusal proves the destination is up.
 */
import type { Clock } from '../ports/index.js';

/** The three states, named as `GET /api/v1/subscriptions` shows them. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** Thresholds of one breaker. */
export interface BreakerOptions {
  /** Consecutive health failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before letting a probe through, in ms. */
  openMs: number;
  /** Concurrent probes allowed while half-open. */
  halfOpenProbes: number;
}

/** Defaults: 5 failures in a row, 10 s open, one probe. */
export const defaultBreakerOptions: BreakerOptions = {
  failureThreshold: 5,
  openMs: 10_000,
  halfOpenProbes: 1,
};

/** What the status endpoint shows of a breaker. */
export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: string | null;
  /** When an open breaker will let a probe through. */
  retryAt: string | null;
  transitions: number;
}

/** One destination's breaker; time comes from the injected Clock only. */
export class CircuitBreaker {
  private stateValue: BreakerState = 'closed';
  private failures = 0;
  private openedAtMs: number | null = null;
  private probesInFlight = 0;
  private transitionCount = 0;
  private readonly listeners: ((from: BreakerState, to: BreakerState) => void)[] = [];

  constructor(
    private readonly clock: Clock,
    readonly options: BreakerOptions = defaultBreakerOptions,
  ) {}

  /** The current state, moving open → half-open once `openMs` has passed. */
  get state(): BreakerState {
    if (this.stateValue === 'open' && this.openedAtMs !== null) {
      if (this.clock.now().getTime() - this.openedAtMs >= this.options.openMs) this.move('half_open');
    }
    return this.stateValue;
  }

  /** Milliseconds until a call may be attempted; 0 when one may go now. */
  waitMs(): number {
    const state = this.state;
    if (state === 'closed') return 0;
    if (state === 'half_open')
      return this.probesInFlight < this.options.halfOpenProbes ? 0 : this.options.openMs;
    return Math.max(0, (this.openedAtMs ?? 0) + this.options.openMs - this.clock.now().getTime());
  }

  /**
   * Asks to make one call. True means go (and, half-open, counts as a probe that must be
   * reported through {@link onSuccess}/{@link onFailure}/{@link onNeutral}).
   */
  tryAcquire(): boolean {
    return this.acquire() !== null;
  }

  /**
   * Asks to make one call and says which kind it is: `'call'` (closed), `'probe'` (half-open: the
   * call tests the destination; report its outcome through {@link onSuccess}/{@link onFailure}/
   * {@link onNeutral}), or null (refused: open, or every probe slot taken). The dispatcher counts
   * attempts by it: a refused call is no attempt, a failed probe is the destination's, not the
   * delivery's (see delivery-policy.ts).
   */
  acquire(): 'call' | 'probe' | null {
    const state = this.state;
    if (state === 'closed') return 'call';
    if (state === 'half_open' && this.probesInFlight < this.options.halfOpenProbes) {
      this.probesInFlight++;
      return 'probe';
    }
    return null;
  }

  /** The call succeeded (or failed in a way that proves the destination is healthy). */
  onSuccess(): void {
    this.failures = 0;
    if (this.stateValue === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      this.move('closed');
    }
  }

  /** The call failed in a way that says the destination is unhealthy. */
  onFailure(): void {
    this.failures++;
    if (this.stateValue === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      this.open();
    } else if (this.stateValue === 'closed' && this.failures >= this.options.failureThreshold) {
      this.open();
    }
  }

  /** A granted call was not made after all (batch cut short); frees a probe slot. */
  onNeutral(): void {
    if (this.stateValue === 'half_open') this.probesInFlight = Math.max(0, this.probesInFlight - 1);
  }

  /** Subscribes to transitions (metrics, logs, tests). */
  onTransition(listener: (from: BreakerState, to: BreakerState) => void): void {
    this.listeners.push(listener);
  }

  /** A JSON-safe view for the status endpoint. */
  snapshot(): BreakerSnapshot {
    const state = this.state;
    return {
      state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAtMs === null ? null : new Date(this.openedAtMs).toISOString(),
      retryAt:
        state === 'open' && this.openedAtMs !== null
          ? new Date(this.openedAtMs + this.options.openMs).toISOString()
          : null,
      transitions: this.transitionCount,
    };
  }

  private open(): void {
    this.openedAtMs = this.clock.now().getTime();
    this.move('open');
  }

  private move(to: BreakerState): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.transitionCount++;
    if (to === 'closed') this.openedAtMs = null;
    if (to !== 'half_open') this.probesInFlight = 0;
    for (const l of this.listeners) l(from, to);
  }
}
