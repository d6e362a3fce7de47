import { describe, expect, it } from 'vitest';
import { reviveTrytonValue, TrytonDate, TrytonDateTime, TrytonDecimal } from './values.js';

describe('Tryton value encoding', () => {
  it('serialises decimals, dates and datetimes to the tagged objects Tryton expects', () => {
    const body = JSON.stringify({
      price: new TrytonDecimal('10.00'),
      day: new TrytonDate('2026-03-09'),
      at: new TrytonDateTime('2026-03-09T07:05:01.000042'),
    });
    expect(JSON.parse(body)).toEqual({
      price: { __class__: 'Decimal', decimal: '10.00' },
      day: { __class__: 'date', year: 2026, month: 3, day: 9 },
      at: {
        __class__: 'datetime',
        year: 2026,
        month: 3,
        day: 9,
        hour: 7,
        minute: 5,
        second: 1,
        microsecond: 42,
      },
    });
  });

  it('revives tagged objects from a response and keeps decimals exact as strings', () => {
    const parsed = JSON.parse(
      '{"a":{"__class__":"Decimal","decimal":"0.30000000000000000001"},"d":{"__class__":"date","year":2026,"month":1,"day":2},' +
        '"t":{"__class__":"datetime","year":2026,"month":1,"day":2,"hour":3,"minute":4,"second":5,"microsecond":6}}',
      reviveTrytonValue,
    ) as { a: TrytonDecimal; d: TrytonDate; t: TrytonDateTime };
    expect(parsed.a).toBeInstanceOf(TrytonDecimal);
    expect(parsed.a.value).toBe('0.30000000000000000001');
    expect(parsed.d.iso).toBe('2026-01-02');
    expect(parsed.t.iso).toBe('2026-01-02T03:04:05.000006');
    expect(parsed.t.toInstant()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('round-trips a datetime with microseconds exactly (the change-feed watermark depends on it)', () => {
    const original = new TrytonDateTime('2026-11-28T01:00:29.086946');
    const back = JSON.parse(JSON.stringify({ x: original }), reviveTrytonValue) as { x: TrytonDateTime };
    expect(back.x.iso).toBe(original.iso);
  });
});
