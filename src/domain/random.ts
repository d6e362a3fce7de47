/**
 * Random bytes from a pooled buffer: one `randomFillSync` per 4 KiB instead of one per id.
 *
 * Why: every order makes a dozen ids (order, events, trace spans); a syscall and a fresh buffer
 * for each showed up as ~2 % of the API thread in the orders benchmark (docs/PERFORMANCE.md).
 * The bytes come from the same CSPRNG; pooling changes only how often we ask for them.
 */
import { randomFillSync } from 'node:crypto';

const poolSize = 4096;
const pool = Buffer.allocUnsafe(poolSize);
let poolOffset = poolSize;

/** Start offset of `bytes` fresh random bytes in `pool`. */
function take(bytes: number): number {
  if (bytes > poolSize) throw new RangeError(`at most ${poolSize} random bytes at a time`);
  if (poolOffset + bytes > poolSize) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += bytes;
  return start;
}

/** `bytes` random bytes (a view into the pool: read it before the next call). */
export function pooledRandomBytes(bytes: number): Uint8Array {
  const start = take(bytes);
  return pool.subarray(start, start + bytes);
}

/** `bytes` random bytes as lowercase hex; never all zero (W3C trace and span ids forbid it). */
export function randomHex(bytes: number): string {
  for (;;) {
    const start = take(bytes);
    for (let i = start; i < start + bytes; i++) {
      if (pool[i] !== 0) return pool.toString('hex', start, start + bytes);
    }
  }
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Event ids use it
 * because the outbox has a unique index on them: v4 ids put every new event on a random page of
 * that index (one more 4 KiB page per event in each group commit's WAL write), v7 ids append.
 */
export function uuidv7(now = Date.now()): string {
  const start = take(10);
  const hex = pool.toString('hex', start, start + 10);
  const ms = Math.max(0, Math.trunc(now)).toString(16).padStart(12, '0').slice(-12);
  // version 7 in the high nibble of byte 6; variant 10 in the high bits of byte 8.
  const variant = ((Number.parseInt(hex[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${hex.slice(0, 3)}-${variant}${hex.slice(4, 7)}-${hex.slice(8, 20)}`;
}
