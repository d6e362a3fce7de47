/**
 * HMAC-SHA256 signatures of inbound webhooks (CRM, WMS, TMS → hub) and of our own outbound
 * webhook deliveries.
 *
 * Format: header `x-crossdock-signature: t=<unix seconds>,v1=<hex hmac of "<t>.<raw body>">`
 * (the Stripe scheme), or GitHub's `sha256=<hex hmac of raw body>` for senders that cannot
 * sign a timestamp. Why the timestamp: it bounds how long a captured request can be replayed
 * (default 5 minutes); durable dedupe by event id covers replays inside that window.
 * Comparison is `timingSafeEqual` over equal-length digests, so response time leaks nothing
 * about how many leading bytes of a forged signature were right.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the signature. */
export const signatureHeader = 'x-crossdock-signature';

/** Why a signature was refused (shown in the exception, never the secret or the digest). */
export type SignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'expired';

/** Signs `rawBody` at `timestampSec` in the `t=…,v1=…` format. */
export function signWebhook(secret: string, rawBody: string | Buffer, timestampSec: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

/** Options of {@link verifyWebhookSignature}. */
export interface VerifyOptions {
  /** Now, from the injected clock. */
  now: Date;
  /** Accepted clock skew / replay window, in seconds. */
  toleranceSec?: number;
}

/**
 * Verifies a signature header against the raw body (the exact bytes received: re-serialised
 * JSON would not match). Accepts any of several secrets so keys can be rotated without downtime.
 */
export function verifyWebhookSignature(
  secrets: string | readonly string[],
  rawBody: string | Buffer,
  header: string | undefined,
  options: VerifyOptions,
): { ok: true } | { ok: false; reason: SignatureFailure } {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'missing' };
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  if (header.startsWith('sha256=')) {
    const given = hexBytes(header.slice(7));
    if (!given) return { ok: false, reason: 'malformed' };
    for (const key of keys) {
      if (safeEqual(given, createHmac('sha256', key).update(rawBody).digest())) return { ok: true };
    }
    return { ok: false, reason: 'mismatch' };
  }
  const parts = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed' };
    const name = part.slice(0, eq).trim();
    parts.set(name, [...(parts.get(name) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  const candidates = (parts.get('v1') ?? []).map(hexBytes);
  if (!Number.isInteger(t) || candidates.length === 0 || candidates.some((c) => c === null)) {
    return { ok: false, reason: 'malformed' };
  }
  let matched = false;
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(`${t}.`).update(rawBody).digest();
    for (const c of candidates) if (c && safeEqual(c, expected)) matched = true;
  }
  if (!matched) return { ok: false, reason: 'mismatch' };
  const tolerance = options.toleranceSec ?? 300;
  if (Math.abs(options.now.getTime() / 1000 - t) > tolerance) return { ok: false, reason: 'expired' };
  return { ok: true };
}

function hexBytes(hex: string): Buffer | null {
  return /^[0-9a-fA-F]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : null;
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
