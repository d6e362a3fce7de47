/**
 * Deterministic randomness for the simulators: the demo data set and fault injection must
 * replay identically from a seed, so a failing test or benchmark run can be reproduced.
 */

/** A source of uniform numbers in [0, 1), like `Math.random`, but seedable. */
export type RandomSource = () => number;

/**
 * mulberry32: a 32-bit PRNG, tiny and fast (one closure, no allocation per call), good enough
 * for demo data and fault dice. Not for anything secret.
 */
export function mulberry32(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Convenience helpers over a RandomSource, so generators read like prose. */
export class Rng {
  constructor(readonly next: RandomSource) {}

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Float in [min, max), rounded to `decimals`. */
  float(min: number, max: number, decimals = 2): number {
    const f = 10 ** decimals;
    return Math.round((min + this.next() * (max - min)) * f) / f;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Fisher–Yates shuffle, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}

const sfChecksumChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A Salesforce-style 18-character record id: key prefix (3 chars, `001` for Account), pod and
 * reserved chars, a base-62 counter, then Salesforce's real case-checksum suffix, so connectors
 * that convert 15↔18-char ids work against the simulator as against a real org.
 */
export function salesforceId(keyPrefix: string, counter: number): string {
  let n = counter;
  let body = '';
  for (let i = 0; i < 9; i++) {
    body = base62[n % 62]! + body;
    n = Math.floor(n / 62);
  }
  return salesforceId18(`${keyPrefix.slice(0, 3).padEnd(3, '0')}Dn0${body}`);
}

/**
 * Converts a 15-character (case-sensitive) Salesforce id to the 18-character form by appending
 * Salesforce's case checksum; an 18-character id is returned unchanged.
 */
export function salesforceId18(id: string): string {
  if (id.length !== 15) return id;
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    suffix += sfChecksumChars[bits];
  }
  return id + suffix;
}
