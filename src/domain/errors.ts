/**
 * Typed failures crossing any boundary (connector, store, workflow, HTTP).
 *
 * Why: retries, dead-lettering, holds and the exception queue all decide on the *kind* of a
 * failure, never on a message string. Modelled on Temporal's ApplicationFailure: created by
 * intent, carrying whether a retry can help and which team owns the fix.
 */
export const errorKinds = [
  'transient',
  'data_quality',
  'policy_violation',
  'downstream_outage',
  'conflict',
] as const;
export type ErrorKind = (typeof errorKinds)[number];

/** Teams that own an exception; used for routing holds and dead letters. */
export const owners = [
  'credit',
  'pricing',
  'inventory',
  'master_data',
  'tax',
  'logistics',
  'integration',
  'customer_service',
  /** Sales operations: duplicate purchase orders and other holds only the account's sales team can judge. */
  'sales',
] as const;
export type Owner = (typeof owners)[number];

const defaultRetryable: Record<ErrorKind, boolean> = {
  transient: true,
  downstream_outage: true,
  data_quality: false,
  policy_violation: false,
  conflict: false,
};

const defaultOwner: Record<ErrorKind, Owner> = {
  transient: 'integration',
  downstream_outage: 'integration',
  data_quality: 'master_data',
  policy_violation: 'customer_service',
  conflict: 'integration',
};

export interface CrossdockErrorOptions {
  /**
   * What went wrong, stable and machine-readable (`unknown_order`, `shipped`, `over_return`, …):
   * what callers branch on and what problem+json answers carry as `code`. Without one, a string
   * `details.reason` is taken (older call sites), else the kind.
   */
  code?: string;
  retryable?: boolean;
  owner?: Owner;
  /** Structured context (system, field, vendor code); never secrets. */
  details?: Record<string, unknown>;
  /** Milliseconds the other side asked us to wait (Retry-After), if any. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one error type that crosses boundaries. */
export class CrossdockError extends Error {
  readonly kind: ErrorKind;
  /** Stable machine-readable reason; see {@link CrossdockErrorOptions.code}. */
  readonly code: string;
  readonly retryable: boolean;
  readonly owner: Owner;
  readonly details: Record<string, unknown>;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ErrorKind, message: string, options: CrossdockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CrossdockError';
    this.kind = kind;
    this.retryable = options.retryable ?? defaultRetryable[kind];
    this.owner = options.owner ?? defaultOwner[kind];
    this.details = options.details ?? {};
    const reason = this.details['reason'];
    this.code = options.code ?? (typeof reason === 'string' && reason.length > 0 ? reason : kind);
    this.retryAfterMs = options.retryAfterMs;
  }

  static transient(message: string, options?: CrossdockErrorOptions): CrossdockError {
    return new CrossdockError('transient', message, options);
  }
  static dataQuality(message: string, options?: CrossdockErrorOptions): CrossdockError {
    return new CrossdockError('data_quality', message, options);
  }
  static policyViolation(message: string, options?: CrossdockErrorOptions): CrossdockError {
    return new CrossdockError('policy_violation', message, options);
  }
  static downstreamOutage(message: string, options?: CrossdockErrorOptions): CrossdockError {
    return new CrossdockError('downstream_outage', message, options);
  }
  static conflict(message: string, options?: CrossdockErrorOptions): CrossdockError {
    return new CrossdockError('conflict', message, options);
  }

  /** A JSON-safe summary for journals, timelines and exception records. */
  toJSON(): {
    kind: ErrorKind;
    code: string;
    message: string;
    retryable: boolean;
    owner: Owner;
    details: Record<string, unknown>;
  } {
    return {
      kind: this.kind,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      owner: this.owner,
      details: this.details,
    };
  }
}

/** Narrow anything thrown into a CrossdockError; unknown failures count as transient. */
export function toCrossdockError(err: unknown): CrossdockError {
  if (err instanceof CrossdockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return CrossdockError.transient(message, { cause: err });
}
