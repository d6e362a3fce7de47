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
