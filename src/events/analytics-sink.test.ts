import {
  appendFileSync,
  chmodSync,
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { FileAnalyticsSink, MemoryAnalyticsSink } from './analytics-sink.js';
import { makeEvent } from './event-factory.js';

const ev = (i: number) =>
  makeEvent(
    'order.cancelled.v1',
    `ord-${i}`,
    { orderId: `ord-${i}`, customerId: null, state: 'cancelled', customerStatus: 'cancelled', reason: 'x' },
    // fixed, so that `line(i)` is byte for byte what the sink writes for `ev(i)`
    {
      id: `e-${i}`,
      now: new Date('2026-11-28T10:00:00.000Z'),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
  );
const line = (i: number) => `${JSON.stringify(ev(i))}\n`;

const dirs: string[] = [];
const sinks: FileAnalyticsSink[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sink-'));
  dirs.push(dir);
  return dir;
}
function sink(path: string, options: ConstructorParameters<typeof FileAnalyticsSink>[1] = {}) {
  const s = new FileAnalyticsSink(path, options);
  sinks.push(s);
  return s;
}
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of sinks.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Ids per file of the export folder, every line parsed (a torn or glued line fails the test). */
function exportIds(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, name), 'utf8');
    if (text.length > 0) expect(text.endsWith('\n'), `${name} ends with a newline`).toBe(true);
    const lines = text.split('\n').filter((l) => l.length > 0);
    out.set(
      name,
      lines.map((l) => (JSON.parse(l) as { id: string }).id),
    );
  }
  return out;
}
const allIds = (dir: string) => [...exportIds(dir).values()].flat();

/** The prototype of node's FileHandle, to spy on writes and syncs of the sink's handles. */
async function fileHandlePrototype(dir: string) {
  const h = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(h) as {
    write: (...a: unknown[]) => Promise<unknown>;
    datasync: () => Promise<void>;
  };
  await h.close();
  rmSync(join(dir, 'probe'));
  return proto;
}

describe('analytics sinks', () => {
  test('The memory sink keeps one line per event id however often it is appended', async () => {
    const s = new MemoryAnalyticsSink();
    await s.append(ev(1));
    await s.append(ev(1));
    expect(s.lines).toHaveLength(1);
    expect(s.duplicates).toBe(1);
  });

  test('The file sink writes JSON lines and skips ids already in the file after a restart', async () => {
    const path = join(tempDir(), 'export.jsonl');
    const a = sink(path);
    await Promise.all([1, 2, 3].map((i) => a.append(ev(i))));
    await a.close();
    const b = sink(path);
    expect(await b.append(ev(2))).toBe(false);
    expect(await b.append(ev(4))).toBe(true);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });

  test('Opened over a torn last line, the sink cuts it; the next event is a line of its own and the torn event, redelivered, is written once', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    const torn = line(3).slice(0, 40);
    writeFileSync(path, line(1) + line(2) + torn);
    const s = sink(path);
    const rec = await s.open();
    expect(rec.tornBytes).toBe(torn.length);
    expect(rec.ids).toBe(2);
    expect(await s.append(ev(4))).toBe(true);
    expect(await s.append(ev(3))).toBe(true); // the redelivery of the torn event
    expect(await s.append(ev(2))).toBe(false);
    expect(await s.append(ev(3))).toBe(false);
    expect(allIds(dir)).toEqual(['e-1', 'e-2', 'e-4', 'e-3']);
  });

  test('A file that is one torn line without any newline is emptied on open', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    writeFileSync(path, line(1).slice(0, 30));
    const s = sink(path);
    expect((await s.open()).tornBytes).toBe(30);
    expect(await s.append(ev(1))).toBe(true);
    expect(allIds(dir)).toEqual(['e-1']);
  });

  test('An append resolves only after its group was written and fdatasync returned; one write and one sync per group', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    const proto = await fileHandlePrototype(dir);
    const s = sink(path);
    await s.open();
    const log: string[] = [];
    const write = proto.write;
    const datasync = proto.datasync;
    vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      log.push('write');
      return write.apply(this, args);
    });
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      await datasync.apply(this);
      // what is in the file when the sync returns
      log.push(`datasync:${readFileSync(path, 'utf8').split('\n').length - 1}`);
    });
    const appends = Array.from({ length: 100 }, (_, i) =>
      s.append(ev(i)).then((written) => {
        log.push('resolved');
        // the line is in the file when the promise resolves
        expect(readFileSync(path, 'utf8')).toContain(`"id":"e-${i}"`);
        return written;
      }),
    );
    expect(await Promise.all(appends)).toEqual(Array(100).fill(true));
    expect(log).toEqual(['write', 'datasync:100', ...Array(100).fill('resolved')]);
  });

  test('With a sync interval, appends after a group wait for the interval and share one sync; close writes a waiting group at once', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    const proto = await fileHandlePrototype(dir);
    const s = sink(path, { syncIntervalMs: 60_000 });
    await s.open();
    const datasync = proto.datasync;
    let syncs = 0;
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      syncs++;
      await datasync.apply(this);
    });
    // The first group goes at once (no group has started yet).
    expect(await s.append(ev(0))).toBe(true);
    expect(syncs).toBe(1);
    // Within the interval: the next appends wait, unacknowledged, and nothing more is written.
    let settled = 0;
    const waiting = [1, 2, 3].map((i) => s.append(ev(i)).finally(() => settled++));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(0);
    expect(readFileSync(path, 'utf8').split('\n').length - 1).toBe(1);
    // Shutdown does not wait out the interval: the waiting group is written and synced once.
    await s.close();
    expect(await Promise.all(waiting)).toEqual([true, true, true]);
    expect(syncs).toBe(2);
    expect(allIds(dir)).toEqual(['e-0', 'e-1', 'e-2', 'e-3']);
  });

  test('A failed sync rejects the group and cuts its lines back out; the retry writes each event once', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    const proto = await fileHandlePrototype(dir);
    const s = sink(path);
    await s.append(ev(1));
    const spy = vi.spyOn(proto, 'datasync').mockImplementationOnce(async () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    await expect(Promise.all([s.append(ev(2)), s.append(ev(3))])).rejects.toThrow(/EIO/);
    expect(allIds(dir)).toEqual(['e-1']);
    spy.mockRestore();
    expect(await s.append(ev(2))).toBe(true);
    expect(await s.append(ev(3))).toBe(true);
    expect(allIds(dir)).toEqual(['e-1', 'e-2', 'e-3']);
  });

  test('Rotation by size keeps every event exactly once across files, each rotated file complete and within the size', async () => {
    const dir = tempDir();
    const path = join(dir, 'analytics-export.jsonl');
    const frozen = Date.parse('2026-11-28T10:15:30.123Z');
    // A frozen clock: every rotation wants the same name, so names must be made unique.
    const s = sink(path, { rotateBytes: 2048, now: () => frozen });
    for (let i = 0; i < 200; i += 4) {
      await Promise.all([i, i + 1, i + 2, i + 3].map((k) => s.append(ev(k))));
    }
    const files = exportIds(dir);
    const rotated = [...files.keys()].filter((n) => n !== 'analytics-export.jsonl');
    expect(rotated.length).toBeGreaterThan(10);
    for (const name of rotated) {
      expect(name).toMatch(/^analytics-export\.\d{8}T\d{6}\.\d{3}Z\.jsonl$/);
      expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(2048);
    }
    expect(rotated[0]).toBe('analytics-export.20261128T101530.123Z.jsonl');
    // Names sort in write order: the ids read file by file in name order are the append order.
    const inOrder = [...rotated, 'analytics-export.jsonl'].flatMap((n) => files.get(n) ?? []);
    expect(inOrder).toEqual(Array.from({ length: 200 }, (_, i) => `e-${i}`));
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
  });

  test('Rotation by time: past rotateHours the next group starts a new file, and an idle old file is rotated by rotateIfDue', async () => {
    const dir = tempDir();
    const path = join(dir, 'analytics-export.jsonl');
    let now = Date.now(); // the file's creation time is real time, so the manual clock starts there
    const s = sink(path, { rotateHours: 24, now: () => now });
    await s.append(ev(1));
    now += 23 * 3_600_000;
    await s.append(ev(2));
    expect(readdirSync(dir)).toEqual(['analytics-export.jsonl']);
    now += 2 * 3_600_000;
    await s.append(ev(3));
    const stamp1 = new Date(now).toISOString().replace(/[-:]/g, '');
    expect(exportIds(dir)).toEqual(
      new Map([
        [`analytics-export.${stamp1}.jsonl`, ['e-1', 'e-2']],
        ['analytics-export.jsonl', ['e-3']],
      ]),
    );
    // The new file's age counts from its first line, not from its creation.
    now += 23 * 3_600_000;
    expect(await s.rotateIfDue()).toBe(false);
    now += 2 * 3_600_000;
    expect(await s.rotateIfDue()).toBe(true);
    const stamp2 = new Date(now).toISOString().replace(/[-:]/g, '');
    expect(exportIds(dir).get(`analytics-export.${stamp2}.jsonl`)).toEqual(['e-3']);
    expect(readFileSync(path, 'utf8')).toBe('');
    // An empty current file is not rotated, however old.
    now += 48 * 3_600_000;
    expect(await s.rotateIfDue()).toBe(false);
    // Reopened over a non-empty file, the age counts from the file's creation time (where the
    // file system keeps one; elsewhere from the open).
    await s.append(ev(4));
    await s.close();
    const again = sink(path, { rotateHours: 1, now: () => Date.now() + 2 * 3_600_000 });
    await again.open();
    expect(await again.rotateIfDue()).toBe(statSync(path).birthtimeMs > 0);
  });

  test('Dedupe across reopen reaches into the newest rotated file when the current one holds fewer ids than the window', async () => {
    const dir = tempDir();
    const path = join(dir, 'analytics-export.jsonl');
    const a = sink(path, { rotateBytes: 4096 });
    for (let i = 0; i < 30; i++) await a.append(ev(i));
    await a.close();
    const files = exportIds(dir);
    expect(files.size).toBeGreaterThan(2);
    const current = files.get('analytics-export.jsonl')!;
    expect(current.length).toBeLessThan(30);
    const b = sink(path, { rotateBytes: 4096, dedupeWindow: 1000 });
    const rec = await b.open();
    expect(rec.files).toHaveLength(2);
    const newestRotated = [...files.keys()].filter((n) => n !== 'analytics-export.jsonl').at(-1)!;
    expect(rec.ids).toBe(current.length + files.get(newestRotated)!.length);
    // every id of the current and the newest rotated file is refused
    for (const id of [...files.get(newestRotated)!, ...current]) {
      expect(await b.append(ev(Number(id.slice(2))))).toBe(false);
    }
    expect(await b.append(ev(30))).toBe(true);
    expect(allIds(dir)).toEqual(Array.from({ length: 31 }, (_, i) => `e-${i}`));
  });

  test('A crash between the rotation rename and the new file loses nothing: the ids come from the rotated file', async () => {
    const dir = tempDir();
    const path = join(dir, 'analytics-export.jsonl');
    writeFileSync(path, line(1) + line(2));
    renameSync(path, join(dir, 'analytics-export.20261128T101530.123Z.jsonl'));
    const s = sink(path);
    expect(await s.append(ev(2))).toBe(false);
    expect(await s.append(ev(3))).toBe(true);
    expect(allIds(dir)).toEqual(['e-1', 'e-2', 'e-3']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('The dedupe window never holds more than dedupeWindow ids, and open reads only the tail', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    const s = sink(path, { dedupeWindow: 100 });
    let max = 0;
    for (let i = 0; i < 10_000; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, k) => s.append(ev(i + k))));
      max = Math.max(max, s.size);
    }
    expect(max).toBe(100);
    expect(await s.append(ev(9999))).toBe(false); // recent: a crash redelivery is refused
    // Older than the window: a replay of it appends it again (at-least-once for replays).
    expect(await s.append(ev(0))).toBe(true);
    await s.close();

    const fileBytes = statSync(path).size;
    const b = sink(path, { dedupeWindow: 100 });
    const rec = await b.open();
    expect(rec.ids).toBe(100);
    expect(b.size).toBe(100);
    // one 1 MiB chunk for the torn-tail check and one for the ids, of a file three times that
    expect(fileBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect(rec.bytesRead).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(await b.append(ev(9905))).toBe(false);
    expect(await b.append(ev(9899))).toBe(true);

    // tailBytes bounds what is read even with a larger window
    const c = sink(path, { dedupeWindow: 100_000, tailBytes: 10_000 });
    const capped = await c.open();
    expect(capped.bytesRead).toBeLessThanOrEqual(10_000 + 1024 * 1024);
    expect(capped.ids).toBeLessThan(60);
  });

  test('Files are created 0600 and an existing wider current file is narrowed to 0600', async () => {
    const dir = tempDir();
    const path = join(dir, 'export.jsonl');
    writeFileSync(path, line(1));
    chmodSync(path, 0o644);
    const s = sink(path);
    await s.append(ev(2));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const fresh = join(dir, 'sub', 'new.jsonl');
    const t = sink(fresh);
    await t.append(ev(1));
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  test('Over a 3 GiB file with a sparse hole the sink reads only its tail, rotates it whole and writes the next event on a line of its own', async () => {
    const dir = tempDir();
    const path = join(dir, 'analytics-export.jsonl');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    appendFileSync(path, `\n${line(1)}${line(2)}`);
    const size = statSync(path).size;
    const started = performance.now();
    const s = sink(path);
    const rec = await s.open();
    const openMs = performance.now() - started;
    expect(rec.ids).toBe(2);
    expect(rec.bytesRead).toBeLessThan(20 * 1024 * 1024);
    expect(openMs).toBeLessThan(5_000);
    expect(await s.append(ev(2))).toBe(false);
    expect(await s.append(ev(3))).toBe(true);
    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(2);
    expect(statSync(join(dir, names[0]!)).size).toBe(size);
    expect(readFileSync(path, 'utf8')).toBe(line(3));
  });
});
