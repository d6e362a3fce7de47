/**
 * Tryton failure → typed CrossdockError.
 *
 * Why one table: Tryton answers business errors with HTTP 200 and an `error` array whose first
 * element names the exception class; transport failures surface as undici error codes. The hub
 * decides retries, holds and owners on the kind alone, so every path ends here. Whether the
 * request may have been executed (`details.ambiguous`) matters for writes: a refused connection
 * never reached Tryton, a timeout or a dropped socket may have.
 */
import { CrossdockError } from '../../domain/errors.js';

const system = 'tryton';

/** Maps the `error` member of a Tryton JSON-RPC response. */
export function fromTrytonError(method: string, error: unknown): CrossdockError {
  const [type, args] = Array.isArray(error) ? error : [String(error), undefined];
  const typeName = String(type);
  const list = Array.isArray(args) ? args.map((a) => (a === null || a === undefined ? '' : String(a))) : [];
  const details = { system, method, vendorType: typeName };
  switch (typeName) {
    case 'UserError': {
      const [message = 'Tryton refused the request', description = ''] = list;
      const text = `${message} ${description}`;
      const vendor = { ...details, vendorMessage: message, vendorDescription: description };
      if (/credit limit/i.test(text)) {
        return CrossdockError.policyViolation(message, {
          owner: 'credit',
          details: { ...vendor, reason: 'credit_limit' },
        });
      }
      if (/must be unique|already exists/i.test(text)) {
        return CrossdockError.conflict(message, { details: vendor });
      }
      return CrossdockError.dataQuality(message, { details: vendor });
    }
    case 'UserWarning': {
      const [name = '', message = 'Tryton asked for confirmation'] = list;
      const reason = /credit/i.test(`${name} ${message}`) ? 'credit_limit' : 'warning';
      return CrossdockError.policyViolation(message, {
        owner: reason === 'credit_limit' ? 'credit' : 'customer_service',
        details: { ...details, warning: name, reason },
      });
    }
    case 'ConcurrencyException':
      return CrossdockError.conflict('record was modified in Tryton since it was read', { details });
    case 'AccessError':
      return CrossdockError.policyViolation(list[0] ?? 'access denied by Tryton', {
        // Credit limits are writable only by Tryton's credit group: the credit team owns them.
        owner: /credit limit/i.test(list[0] ?? '') ? 'credit' : 'integration',
        details: { ...details, reason: 'access' },
      });
    case 'LoginException':
      return CrossdockError.downstreamOutage('Tryton rejected the integration credentials', {
        retryable: false,
        details,
      });
    case 'RateLimitException':
      return CrossdockError.transient('Tryton is rate limiting logins', { retryAfterMs: 5000, details });
    default: {
      // Unexpected server exception: `[str(exception), traceback]`. A locked SQLite database
      // clears by itself; anything else is a defect that retrying will not fix.
      if (/locked|OperationalError|timeout|could not serialize/i.test(typeName)) {
        return CrossdockError.transient(typeName, { details });
      }
      return CrossdockError.dataQuality(typeName.slice(0, 300), { owner: 'integration', details });
    }
  }
}

/** Maps a non-2xx HTTP status (the body is not a JSON-RPC answer). */
export function fromHttpStatus(method: string, status: number, retryAfterMs?: number): CrossdockError {
  const details = { system, method, status };
  if (status === 429) return CrossdockError.transient('Tryton is rate limiting', { details, retryAfterMs });
  if (status === 502 || status === 503 || status === 504) {
    return CrossdockError.downstreamOutage(`Tryton unavailable (HTTP ${status})`, { details, retryAfterMs });
  }
  if (status === 403) {
    return CrossdockError.downstreamOutage('Tryton refused the integration credentials', {
      retryable: false,
      details,
    });
  }
  if (status >= 500) return CrossdockError.transient(`Tryton failed (HTTP ${status})`, { details });
  return CrossdockError.dataQuality(`Tryton rejected the request shape (HTTP ${status})`, {
    owner: 'integration',
    details,
  });
}

const refusedCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const timeoutCodes = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

function codeOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (current as { name?: unknown }).name;
    if (name === 'TimeoutError') return 'ETIMEDOUT';
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Maps a transport failure (undici error or abort). */
export function fromTransportError(method: string, err: unknown, timeoutMs: number): CrossdockError {
  const code = codeOf(err) ?? 'UNKNOWN';
  if (refusedCodes.has(code)) {
    return CrossdockError.downstreamOutage(`Tryton unreachable (${code})`, {
      cause: err,
      details: { system, method, code, ambiguous: false },
    });
  }
  if (timeoutCodes.has(code)) {
    return CrossdockError.transient(`Tryton did not answer within ${timeoutMs} ms`, {
      cause: err,
      details: { system, method, code, ambiguous: true },
    });
  }
  return CrossdockError.transient(`connection to Tryton lost (${code})`, {
    cause: err,
    details: { system, method, code, ambiguous: true },
  });
}
