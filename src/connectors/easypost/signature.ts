/**
 * EasyPost webhook signatures: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, the HMAC-SHA256 of the
 * exact body bytes under the webhook's secret, the secret NFKD-normalised first (as EasyPost's
 * own client libraries do before comparing).
 *
 * Why written here rather than taken from EasyPost's Node client: the check is one HMAC and a
 * constant-time compare on `node:crypto`; the client is a whole API SDK (HTTP, models) the hub
 * would carry for these few lines. Several secrets are accepted while one is being rotated.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header EasyPost signs with (Node lowercases header names). */
export const easypostSignatureHeader = 'x-hmac-signature';

const prefix = 'hmac-sha256-hex=';

/** The header value EasyPost would send for `rawBody` under `secret` (tests sign with it). */
export function signEasyPost(secret: string, rawBody: string | Buffer): string {
  const mac = createHmac('sha256', Buffer.from(secret.normalize('NFKD'), 'utf8'));
  mac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return `${prefix}${mac.digest('hex')}`;
}

/** Why a signature was refused. */
export type EasyPostSignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'no_secret';

/** Checks the header against each secret; `ok` when one matches. */
export function verifyEasyPostSignature(
  secrets: string | readonly string[],
  rawBody: string | Buffer,
  header: string | undefined,
): { ok: true } | { ok: false; reason: EasyPostSignatureFailure } {
  const list = (typeof secrets === 'string' ? [secrets] : [...secrets]).filter((s) => s.length > 0);
  if (list.length === 0) return { ok: false, reason: 'no_secret' };
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  const given = header.trim().toLowerCase();
  if (!given.startsWith(prefix) || !/^[0-9a-f]{64}$/.test(given.slice(prefix.length))) {
    return { ok: false, reason: 'malformed' };
  }
  const givenBytes = Buffer.from(given, 'utf8');
  for (const secret of list) {
    const expected = Buffer.from(signEasyPost(secret, rawBody), 'utf8');
    if (expected.length === givenBytes.length && timingSafeEqual(expected, givenBytes)) return { ok: true };
  }
  return { ok: false, reason: 'mismatch' };
}
