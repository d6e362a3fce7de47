import { describe, expect, test } from 'vitest';
import { uuidv7 } from './random.js';

describe('uuidv7', () => {
  test('is an RFC 9562 version 7 UUID whose first 48 bits are the milliseconds given', () => {
    const now = Date.parse('2026-11-28T04:30:00.123Z');
    const id = uuidv7(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  test('ids of later milliseconds sort after earlier ones, and ids of one millisecond differ', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 10)));
    for (let i = 10; i < ids.length; i += 10) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // The variant bits take every allowed value, not one fixed nibble.
    expect(new Set(ids.map((id) => id[19])).size).toBe(4);
  });
});
