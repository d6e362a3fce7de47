import { describe, expect, it } from 'vitest';
import { fromHttpStatus, fromTransportError, fromTrytonError } from './errors.js';

describe('Tryton error mapping', () => {
  it('maps a credit-limit UserError to policy_violation owned by credit', () => {
    const err = fromTrytonError('model.sale.sale.confirm', [
      'UserError',
      ['Party "Overdrawn" has reached their credit limit of $1.00.', '', null],
    ]);
    expect(err.kind).toBe('policy_violation');
    expect(err.owner).toBe('credit');
    expect(err.retryable).toBe(false);
  });

  it('maps a missing or invalid field UserError to data_quality', () => {
    const err = fromTrytonError('model.sale.sale.create', [
      'UserError',
      ['A value is required for field "Invoice Address" in "Sale".', '', null],
    ]);
    expect(err.kind).toBe('data_quality');
  });

  it('maps a unique-constraint UserError and ConcurrencyException to conflict', () => {
    expect(fromTrytonError('m', ['UserError', ['The code on party must be unique.', '']]).kind).toBe(
      'conflict',
    );
    expect(
      fromTrytonError('m', ['ConcurrencyException', 'Records were modified in the meanwhile']).kind,
    ).toBe('conflict');
  });

  it('maps a credit UserWarning (override group) to policy_violation', () => {
    expect(fromTrytonError('m', ['UserWarning', ['credit_limit_1', 'reached credit limit', '']]).kind).toBe(
      'policy_violation',
    );
  });

  it('maps a locked SQLite database to transient and an unknown server exception to data_quality', () => {
    expect(fromTrytonError('m', ['database is locked', 'traceback']).kind).toBe('transient');
    expect(fromTrytonError('m', ['Missing context argument', '']).kind).toBe('data_quality');
  });

  it('maps refused connections to downstream_outage and timeouts or resets to ambiguous transient', () => {
    const refused = fromTransportError('m', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 1000);
    expect(refused.kind).toBe('downstream_outage');
    expect(refused.details['ambiguous']).toBe(false);
    const timeout = fromTransportError(
      'm',
      Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
      1000,
    );
    expect(timeout.kind).toBe('transient');
    expect(timeout.details['ambiguous']).toBe(true);
    const reset = fromTransportError('m', Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }), 1000);
    expect(reset.kind).toBe('transient');
    expect(reset.details['ambiguous']).toBe(true);
  });

  it('maps HTTP statuses: 503 outage, 429 transient with Retry-After, 500 transient', () => {
    expect(fromHttpStatus('m', 503).kind).toBe('downstream_outage');
    const limited = fromHttpStatus('m', 429, 2000);
    expect(limited.kind).toBe('transient');
    expect(limited.retryAfterMs).toBe(2000);
    expect(fromHttpStatus('m', 500).kind).toBe('transient');
  });
});
