/**
 * Tryton's JSON value encoding: Decimal, date and datetime travel as tagged objects
 * (`{"__class__": "Decimal", "decimal": "10.00"}`), everything else is plain JSON.
 *
 * Why classes rather than numbers and strings: money must stay exact on the wire (a float would
 * round `0.1 + 0.2`), and a date must be told apart from a string field such as a sale number.
 * Each class serialises itself to Tryton's tagged form through `toJSON`, so request bodies are
 * built with a plain `JSON.stringify`, and `reviveTrytonValue` turns responses back into them.
 */

/** An exact decimal (money, price) as Tryton sends it; kept as a string, never a float. */
export class TrytonDecimal {
  constructor(readonly value: string) {}
  /** The number for arithmetic at the hub's own precision (money is rounded to 4 places). */
  toNumber(): number {
    return Number(this.value);
  }
  toJSON(): { __class__: 'Decimal'; decimal: string } {
    return { __class__: 'Decimal', decimal: this.value };
  }
  /** Builds the decimal for a hub amount, fixed to `places` digits so Tryton stores it exactly. */
  static fromNumber(value: number, places = 4): TrytonDecimal {
    return new TrytonDecimal(value.toFixed(places));
  }
}

/** A calendar date (`YYYY-MM-DD`) as Tryton sends it. */
export class TrytonDate {
  constructor(readonly iso: string) {}
  toJSON(): { __class__: 'date'; year: number; month: number; day: number } {
    const [y, m, d] = this.iso.split('-').map(Number);
    return { __class__: 'date', year: y ?? 0, month: m ?? 0, day: d ?? 0 };
  }
}

/**
 * A naive UTC timestamp with microseconds (`YYYY-MM-DDTHH:MM:SS.ffffff`), as Tryton stores
 * `create_date` and `write_date`. Microseconds matter: the change-feed watermark compares them
 * exactly, and a JavaScript Date would truncate them to milliseconds.
 */
export class TrytonDateTime {
  constructor(readonly iso: string) {}
  toJSON(): {
    __class__: 'datetime';
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    microsecond: number;
  } {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(this.iso);
    if (!m) throw new TypeError(`not a Tryton datetime: ${this.iso}`);
    const n = (i: number): number => Number(m[i] ?? '0');
    return {
      __class__: 'datetime',
      year: n(1),
      month: n(2),
      day: n(3),
      hour: n(4),
      minute: n(5),
      second: n(6),
      microsecond: Number((m[7] ?? '0').padEnd(6, '0')),
    };
  }
  /** An ISO-8601 instant with offset for the canonical model (milliseconds). */
  toInstant(): string {
    const millis = (this.iso.slice(20, 23) || '').padEnd(3, '0');
    return `${this.iso.slice(0, 19)}.${millis}Z`;
  }
}

/** Any value that crosses Tryton's JSON-RPC boundary. */
export type TrytonValue =
  | null
  | boolean
  | number
  | string
  | TrytonDecimal
  | TrytonDate
  | TrytonDateTime
  | TrytonValue[]
  | { [key: string]: TrytonValue };

/** A record as `search_read`/`read` return it. */
export type TrytonRecord = { id: number } & { [field: string]: TrytonValue };

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A `JSON.parse` reviver turning Tryton's tagged objects into the classes above. */
export function reviveTrytonValue(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const tagged = value as Record<string, unknown>;
  switch (tagged['__class__']) {
    case 'Decimal':
      return new TrytonDecimal(String(tagged['decimal']));
    case 'date':
      return new TrytonDate(
        `${tagged['year']}-${pad(Number(tagged['month']))}-${pad(Number(tagged['day']))}`,
      );
    case 'datetime':
      return new TrytonDateTime(
        `${tagged['year']}-${pad(Number(tagged['month']))}-${pad(Number(tagged['day']))}T${pad(
          Number(tagged['hour']),
        )}:${pad(Number(tagged['minute']))}:${pad(Number(tagged['second']))}.${pad(Number(tagged['microsecond'] ?? 0), 6)}`,
      );
    default:
      return value;
  }
}

/** Reads a many2one/number field as an id, or null. */
export function idOf(value: TrytonValue | undefined): number | null {
  return typeof value === 'number' ? value : null;
}

/** Reads a Decimal/number field as a number (0 when empty). */
export function numberOf(value: TrytonValue | undefined): number {
  if (value instanceof TrytonDecimal) return value.toNumber();
  if (typeof value === 'number') return value;
  return 0;
}

/** Reads a char/text field as a string, or null. */
export function stringOf(value: TrytonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/** Reads a one2many/many2many field as ids. */
export function idsOf(value: TrytonValue | undefined): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : [];
}
