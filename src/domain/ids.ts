/**
 * Identifiers. Order ids sort by creation time (Crockford base32 of the millisecond time,
 * then randomness) so keyset paging and "latest orders" need no extra index, and an order's rows
 * append to the end of every index keyed by it. Also under an Idempotency-Key: the key's record,
 * committed with the decision, is what makes a repeat land on the first order (see the orders
 * route), not the id.
 */
import { pooledRandomBytes } from './random.js';

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/** A time-ordered id: 10 chars of milliseconds, 16 of randomness. */
export function timeOrderedId(prefix: string, now = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${base32(pooledRandomBytes(10), 16)}`;
}
