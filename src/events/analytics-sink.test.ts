import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FileAnalyticsSink, MemoryAnalyticsSink } from './analytics-sink.js';
import { makeEvent } from './event-factory.js';

const ev = (i: number) =>
  makeEvent(
    'order.cancelled.v1',
    `ord-${i}`,
    { orderId: `ord-${i}`, customerId: null, state: 'cancelled', customerStatus: 'cancelled', reason: 'x' },
    { id: `e-${i}` },
  );

describe('analytics sinks', () => {
  test('The memory sink keeps one line per event id however often it is appended', async () => {
    const s = new MemoryAnalyticsSink();
    await s.append(ev(1));
    await s.append(ev(1));
    expect(s.lines).toHaveLength(1);
    expect(s.duplicates).toBe(1);
  });

  test('The file sink writes JSON lines and skips ids already in the file after a restart', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sink-')), 'export.jsonl');
    const a = new FileAnalyticsSink(path);
    await Promise.all([1, 2, 3].map((i) => a.append(ev(i))));
    const b = new FileAnalyticsSink(path);
    expect(await b.append(ev(2))).toBe(false);
    expect(await b.append(ev(4))).toBe(true);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });
});
