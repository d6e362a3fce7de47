/**
 * Fault injection shared by every simulator: outages, error rates, 429s and latency, so the
 * hub's retry, circuit-breaker, dead-letter and replay paths can be exercised on a laptop.
 *
 * Why one class for all five systems: the fault vocabulary is the same everywhere and the HTTP
 * `/sim/{system}/faults` routes configure it uniformly. Why the `before()` shape: the benchmark
 * drives ~3,000 port calls/s, so a healthy system costs one boolean test and two counter
 * increments — no promise, timer or object is created unless a fault is actually configured.
 */
import { z } from 'zod';
import { CrossdockError } from '../domain/index.js';
import type { RandomSource } from './random.js';

/** Fault settings of one simulated system. */
export interface FaultConfig {
  /** Every call fails with `downstream_outage` (connection refused). */
  down: boolean;
  /** Probability (0..1) that a call fails with `transient` (a 5xx / timeout). */
  errorRate: number;
  /** Delay added to every call, in milliseconds. */
  latencyMs: number;
  /** Probability (0..1) of a 429 answer, surfaced as `transient` with `retryAfterMs`. */
  rateLimit: { status429Rate: number; retryAfterSeconds: number };
}

/** Body of `POST /sim/{system}/faults`: any subset of the settings, validated. */
export const FaultPatch = z
  .object({
    down: z.boolean(),
    errorRate: z.number().min(0).max(1),
    latencyMs: z.number().int().min(0).max(60_000),
    rateLimit: z
      .object({
        status429Rate: z.number().min(0).max(1),
        retryAfterSeconds: z.number().min(0).max(3600),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
/** A partial fault configuration (what `configure` and the HTTP route accept). */
export type FaultPatch = z.infer<typeof FaultPatch>;

/** The healthy configuration every system starts with and `reset()` returns to. */
export function healthyFaults(): FaultConfig {
  return { down: false, errorRate: 0, latencyMs: 0, rateLimit: { status429Rate: 0, retryAfterSeconds: 1 } };
}

/** Counters of what a simulator was asked and what it did; effects are what tests assert on. */
export interface FaultStats {
  system: string;
  /** Port calls received (including those that failed by injection). */
  calls: number;
  /** State changes actually made (a record created or updated); repeats do not count. */
  effects: number;
  injected: { down: number; error: number; rateLimited: number; delayed: number };
  callsByOperation: Record<string, number>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One system's fault dice and call/effect counters. */
export class FaultInjector {
  private cfg: FaultConfig = healthyFaults();
  private active = false;
  private readonly random: RandomSource;
  private readonly opCalls = new Map<string, number>();
  /** Port calls received. */
  calls = 0;
  /** Effects made (records created or changed). */
  effects = 0;
  private readonly injected = { down: 0, error: 0, rateLimited: 0, delayed: 0 };

  constructor(
    readonly system: string,
    random: RandomSource = Math.random,
  ) {
    this.random = random;
  }

  /** The current settings (a copy). */
  get config(): FaultConfig {
    return { ...this.cfg, rateLimit: { ...this.cfg.rateLimit } };
  }

  /** Merges a partial configuration into the current one. */
  configure(patch: FaultPatch): FaultConfig {
    this.cfg = {
      down: patch.down ?? this.cfg.down,
      errorRate: patch.errorRate ?? this.cfg.errorRate,
      latencyMs: patch.latencyMs ?? this.cfg.latencyMs,
      rateLimit: {
        status429Rate: patch.rateLimit?.status429Rate ?? this.cfg.rateLimit.status429Rate,
        retryAfterSeconds: patch.rateLimit?.retryAfterSeconds ?? this.cfg.rateLimit.retryAfterSeconds,
      },
    };
    this.active =
      this.cfg.down ||
      this.cfg.errorRate > 0 ||
      this.cfg.latencyMs > 0 ||
      this.cfg.rateLimit.status429Rate > 0;
    return this.config;
  }

  /** Back to healthy (counters are kept; see `resetCounters`). */
  reset(): FaultConfig {
    return this.configure(healthyFaults());
  }

  /** Zeroes the call and effect counters. */
  resetCounters(): void {
    this.calls = 0;
    this.effects = 0;
    this.opCalls.clear();
    this.injected.down = 0;
    this.injected.error = 0;
    this.injected.rateLimited = 0;
    this.injected.delayed = 0;
  }

  /**
   * Call at the start of every port method: `const g = faults.before('op'); if (g) await g;`.
   * Throws synchronously (inside the async method, so the caller sees a rejection) for an
   * outage, error or 429 without latency; returns a promise only when latency is configured.
   */
  before(operation: string): Promise<void> | undefined {
    this.calls++;
    this.opCalls.set(operation, (this.opCalls.get(operation) ?? 0) + 1);
    if (!this.active) return undefined;
    if (this.cfg.latencyMs > 0) {
      this.injected.delayed++;
      return sleep(this.cfg.latencyMs).then(() => this.roll(operation));
    }
    this.roll(operation);
    return undefined;
  }

  /** Counts one effect (a state change a repeat must not make again). */
  effect(): void {
    this.effects++;
  }

  /** A snapshot of the counters. */
  stats(): FaultStats {
    return {
      system: this.system,
      calls: this.calls,
      effects: this.effects,
      injected: { ...this.injected },
      callsByOperation: Object.fromEntries(this.opCalls),
    };
  }

  private roll(operation: string): void {
    const details = { system: this.system, operation, injected: true };
    if (this.cfg.down) {
      this.injected.down++;
      throw CrossdockError.downstreamOutage(`${this.system} is unreachable (connection refused)`, {
        details,
      });
    }
    const rl = this.cfg.rateLimit;
    if (rl.status429Rate > 0 && this.random() < rl.status429Rate) {
      this.injected.rateLimited++;
      const retryAfterMs = Math.round(rl.retryAfterSeconds * 1000);
      throw CrossdockError.transient(`${this.system} answered 429 Too Many Requests`, {
        details: { ...details, status: 429 },
        retryAfterMs,
      });
    }
    if (this.cfg.errorRate > 0 && this.random() < this.cfg.errorRate) {
      this.injected.error++;
      throw CrossdockError.transient(`${this.system} answered 503 Service Unavailable`, {
        details: { ...details, status: 503 },
      });
    }
  }
}
