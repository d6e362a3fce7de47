/**
 * The analytics export's destination: JSON lines, one event per line, idempotent by event id.
 *
 * Why idempotent at the sink: the dispatcher is at-least-once (a crash between the write and
 * the completion redelivers), and a warehouse loading these files counts rows. Concurrent
 * appends are coalesced into one write (group write), followed by one `fdatasync`; only then do
 * the appends' promises resolve, so an acknowledged line (a completed delivery) survives a
 * killed process and a power cut alike, and 500 deliveries still cost one write and one sync.
 *
 * What the file sink keeps, and why it is bounded (review of 2026-12, issue 10):
 * - **Rotation.** The current file is `<name>.jsonl`; past `rotateBytes`, or `rotateHours` after
 *   its first line, it is renamed to `<name>.<UTC time>.jsonl` beside it (e.g.
 *   `analytics-export.20261128T101530.123Z.jsonl`, names sort by time) and a new current file is
 *   created. Rotation happens between groups, after the last group's sync, with `rename`
 *   (atomic): a loader sees a rotated file complete, and no line is ever split across files.
 *   An idle file is rotated by a timer too, so a quiet night still reaches the warehouse.
 * - **A bounded dedupe window.** The sink remembers the last `dedupeWindow` ids it wrote (200,000
 *   by default), not every id ever. That is enough because the only repeat the dispatcher makes
 *   is of a delivery whose completion was not committed: the batch in flight when the process
 *   died (at most `batchSize`, 500 by default, per process) or a delivery whose handler outlived
 *   its timeout, i.e. always among the most recent appends. A *replay* of events older than the
 *   window appends them again (forced or not: analytics-export is not guarded by the timeline
 *   the way customer notifications are), so for replays the export is at-least-once, and a
 *   loader that must not count twice deduplicates on the CloudEvent `id`.
 * - **Bounded reads at open.** Opening never reads the whole file (the old sink did, and a file
 *   past 512 MiB stopped the hub from starting): it reads the current file backwards in 1 MiB
 *   chunks until it has `dedupeWindow` ids, reaches the file's start, has read `tailBytes`
 *   (256 MiB by default), or meets 16 MiB without a newline (a sparse hole or foreign data; no
 *   event of ours is that long). When the current file holds fewer ids than the window and was
 *   read to its start, the newest rotated file's tail is read the same way.
 * - **A torn tail is cut, not terminated.** A crash mid-write can leave a last line without its
 *   newline. Its append had not resolved (the sync had not returned), so its delivery was not
 *   completed and will be redelivered and written whole; cutting the file back to the last
 *   newline loses nothing acknowledged. Terminating it instead would leave a half event as a
 *   line every loader must skip (and one that fails on bad JSON would stall on it). Only a tail
 *   of more than 16 MiB without a newline, which no torn group of ours can be, is terminated
 *   instead of cut (we do not delete what we cannot recognise).
 * - **A failed group leaves nothing behind.** If the write or the sync fails (disk full, I/O
 *   error), the file is cut back to its last synced size and every append of the group rejects
 *   (the deliveries retry); if even that fails, the next group reopens the file, repairs it and
 *   learns the ids of whatever complete lines the failed group left.
 * - Files are created 0600 (and an existing current file is narrowed to 0600 at open).
 *
 * Why hand-written rather than a rotating-stream package (file-stream-rotator,
 * rotating-file-stream): those rotate a write stream, but none acknowledges a write only after
 * `fdatasync`, repairs a torn tail or recovers ids from the tail, which are the point here.
 *
 * Limits: one writer per file (the hub's data-folder lock). In a cluster each process writes the
 * export in its own data folder, so a delivery taken over by another process after a lease ran
 * out can appear in both processes' files: at-least-once across processes.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CloudEvent } from '../domain/index.js';

/** Where the analytics export writes. */
export interface AnalyticsSink {
  /** Appends the event unless its id was written recently; true when it was written now. */
  append(event: CloudEvent): Promise<boolean>;
  /** How many event ids the sink remembers for dedupe (the file sink: at most its window). */
  readonly size: number;
}

/** An in-memory sink for tests and benchmarks; `lines` in arrival order. */
export class MemoryAnalyticsSink implements AnalyticsSink {
  readonly lines: string[] = [];
  private readonly ids = new Set<string>();
  /** Appends refused as duplicates (tests assert on it). */
  duplicates = 0;

  async append(event: CloudEvent): Promise<boolean> {
    if (this.ids.has(event.id)) {
      this.duplicates++;
      return false;
    }
    this.ids.add(event.id);
    this.lines.push(JSON.stringify(event));
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}

const MiB = 1024 * 1024;
/** Bytes read per step when reading a file backwards. */
const chunkBytes = MiB;
/** A stretch this long without a newline is not an event of ours (request bodies are 256 KiB). */
const maxLineBytes = 16 * MiB;
const newline = 0x0a;

/** Defaults of {@link FileAnalyticsSinkOptions} (the same as `config.analytics`). */
export const analyticsSinkDefaults = {
  rotateBytes: 256 * MiB,
  rotateHours: 24,
  dedupeWindow: 200_000,
  tailBytes: 256 * MiB,
  syncIntervalMs: 0,
} as const;

/** Options of {@link FileAnalyticsSink}. */
export interface FileAnalyticsSinkOptions {
  /** Start a new file when the next group would take the current one past this size, bytes. */
  rotateBytes?: number;
  /** Start a new file this long after the current file's first line, hours. */
  rotateHours?: number;
  /** Event ids remembered for dedupe, the most recent ones. */
  dedupeWindow?: number;
  /** Most bytes read from the files' tails at open to recover the window (plus one chunk). */
  tailBytes?: number;
  /** Milliseconds since the epoch (tests pass a manual clock); rotation age and file names. */
  now?: () => number;
  /**
   * Least time between the starts of two group writes, ms (real time). Appends arriving
   * meanwhile join the next group, so a busy export costs at most one `fdatasync` per interval
   * instead of one per dispatcher wave; each acknowledgement still waits for its line's sync.
   * 0 writes a group as soon as the previous one is done.
   */
  syncIntervalMs?: number;
}

/** What opening the export found (for logs and tests). */
export interface AnalyticsRecovery {
  /** Ids put into the dedupe window from the files' tails. */
  ids: number;
  /** Bytes read to find them and the torn tail. */
  bytesRead: number;
  /** Bytes cut off the end of the current file: a line torn by a crash mid-write. */
  tornBytes: number;
  /** The file ended in over 16 MiB without a newline, so it was ended with one instead of cut. */
  terminated: boolean;
  /** Lines read that are not an event with an id (skipped; a loader must skip them too). */
  unreadable: number;
  /** Files whose tail was read, newest first. */
  files: string[];
}

interface Pending {
  id: string;
  line: string;
  resolve: (written: boolean) => void;
  reject: (e: unknown) => void;
}

/**
 * A JSON-lines file sink (the export a warehouse loader picks up), rotated, synced before each
 * acknowledgement, with a bounded dedupe window; see the module comment.
 */
export class FileAnalyticsSink implements AnalyticsSink {
  private readonly rotateBytes: number;
  private readonly rotateMs: number;
  private readonly window: number;
  private readonly tailBytes: number;
  private readonly now: () => number;
  private readonly syncIntervalMs: number;
  /** Real time the last group write started (for `syncIntervalMs`). */
  private lastGroupAt = 0;
  /** Aborted by close: a group waiting out the interval is written at once. */
  private readonly stopWaiting = new AbortController();
  /**
   * The window: `ids` answers "written recently?", `ring` holds the same ids in write order so
   * the oldest is forgotten in O(1). (Deleting a Set's first entries one by one is quadratic in
   * V8, which skips the deleted slots from the start on every `values().next()`: 256 s for 2
   * million appends over a window of 200,000, against 5 s with the ring.)
   */
  private readonly ids = new Set<string>();
  private readonly ring: string[] = [];
  private ringHead = 0;
  private pending: Pending[] = [];
  private scheduled = false;
  /** Every file operation runs in this chain, one at a time: groups, rotation, close. */
  private chain: Promise<void> = Promise.resolve();
  private handle: FileHandle | null = null;
  /** The current file's size after the last synced group: what a failed group is cut back to. */
  private synced = 0;
  /** When the current file got its first line (null while it is empty). */
  private startedAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private recovered: AnalyticsRecovery | null = null;

  constructor(
    readonly path: string,
    options: FileAnalyticsSinkOptions = {},
  ) {
    this.rotateBytes = options.rotateBytes ?? analyticsSinkDefaults.rotateBytes;
    this.rotateMs = (options.rotateHours ?? analyticsSinkDefaults.rotateHours) * 3_600_000;
    this.window = Math.max(1, options.dedupeWindow ?? analyticsSinkDefaults.dedupeWindow);
    this.tailBytes = options.tailBytes ?? analyticsSinkDefaults.tailBytes;
    this.now = options.now ?? Date.now;
    this.syncIntervalMs = Math.max(0, options.syncIntervalMs ?? analyticsSinkDefaults.syncIntervalMs);
  }

  append(event: CloudEvent): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error(`analytics export ${this.path} is closed`));
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ id: event.id, line: `${JSON.stringify(event)}\n`, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        void this.exclusive(async () => {
          const wait = this.lastGroupAt + this.syncIntervalMs - Date.now();
          if (wait > 0 && !this.stopWaiting.signal.aborted) {
            await delay(wait, undefined, { signal: this.stopWaiting.signal }).catch(() => undefined);
          }
          this.scheduled = false;
          this.lastGroupAt = Date.now();
          return this.writeGroup();
        });
      }
    });
  }

  get size(): number {
    return this.ids.size;
  }

  /** What opening found; null until the file has been opened (by the first append or {@link open}). */
  get recovery(): AnalyticsRecovery | null {
    return this.recovered;
  }

  /**
   * Opens the export now instead of at the first append: repairs a torn tail, recovers the
   * dedupe window. Appends open it themselves; the hub may call this to log what was found.
   */
  open(): Promise<AnalyticsRecovery> {
    return this.exclusive(async () => {
      await this.ensureOpen();
      return this.recovered!;
    });
  }

  /** Rotates the current file if it is old enough and not empty (the idle timer calls this). */
  rotateIfDue(): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.closed || !this.handle || !this.dueByTime()) return false;
      await this.rotate();
      return true;
    });
  }

  /** Writes what is pending, stops the idle timer and closes the file; later appends reject. */
  close(): Promise<void> {
    this.stopWaiting.abort();
    return this.exclusive(async () => {
      this.closed = true;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      const h = this.handle;
      this.handle = null;
      await h?.close();
    });
  }

  /** Runs `fn` after every file operation queued before it. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async writeGroup(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.ensureOpen();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    // Dedupe here, after recovery and one group at a time: an id in the window was synced by an
    // earlier group; an id twice in this group is written once and both appends share its fate.
    const lines: string[] = [];
    const fresh: Pending[] = [];
    const repeats: Pending[] = [];
    const inGroup = new Set<string>();
    for (const p of batch) {
      if (inGroup.has(p.id)) repeats.push(p);
      else if (this.ids.has(p.id)) p.resolve(false);
      else {
        inGroup.add(p.id);
        lines.push(p.line);
        fresh.push(p);
      }
    }
    if (fresh.length === 0) {
      for (const p of repeats) p.resolve(false);
      return;
    }
    const data = Buffer.from(lines.join(''), 'utf8');
    try {
      if (this.synced > 0 && (this.synced + data.length > this.rotateBytes || this.dueByTime())) {
        await this.rotate();
      }
      const h = this.handle!;
      await writeAll(h, data);
      await h.datasync();
      this.synced += data.length;
      this.startedAt ??= this.now();
    } catch (err) {
      await this.cutBack();
      for (const p of [...fresh, ...repeats]) p.reject(err);
      return;
    }
    for (const p of fresh) this.remember(p.id);
    for (const p of fresh) p.resolve(true);
    for (const p of repeats) p.resolve(false);
  }

  /**
   * Adds an id to the window, forgetting the oldest once the window is full. Reading a character
   * first flattens the string in place: an id built by concatenation (the domain's uuidv7) is a
   * V8 cons string of some 400 bytes, a flat one about 60. Measured for 200,000 ids (Set + ring):
   * 82 MiB as they come, 24 MiB flattened, 18 MiB for ids parsed from the file at open.
   */
  private remember(id: string): void {
    if (this.ids.has(id)) return;
    id.charCodeAt(0);
    if (this.ring.length < this.window) this.ring.push(id);
    else {
      this.ids.delete(this.ring[this.ringHead]!);
      this.ring[this.ringHead] = id;
      this.ringHead = (this.ringHead + 1) % this.window;
    }
    this.ids.add(id);
  }

  /** After a failed group: cut the file back to its last synced size, or reopen it next time. */
  private async cutBack(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    try {
      await h.truncate(this.synced);
      await h.datasync();
    } catch {
      // The file's end is unknown now: the next group reopens it, which repairs a torn tail and
      // learns the ids of any complete line the failed group left (see ensureOpen).
      this.handle = null;
      await h.close().catch(() => undefined);
    }
  }

  private dueByTime(): boolean {
    return this.synced > 0 && this.startedAt !== null && this.now() - this.startedAt >= this.rotateMs;
  }

  /**
   * Renames the current file to its rotated name and creates a new current file. Called only
   * between groups (after the last one's sync), so the rotated file ends with a whole line.
   */
  private async rotate(): Promise<void> {
    const old = this.handle!;
    const target = await this.rotatedName();
    await rename(this.path, target);
    // From here the old handle names the rotated file and must not be written again; should
    // the create fail, handle stays null and the next group creates the current file.
    this.handle = null;
    this.synced = 0;
    this.startedAt = null;
    await old.close().catch(() => undefined);
    this.handle = await open(this.path, 'a', 0o600);
    await syncDirectory(dirname(this.path));
  }

  /** `<name>.<UTC time>.jsonl`, a millisecond later while that name is taken (names sort by time). */
  private async rotatedName(): Promise<string> {
    for (let t = this.now(); ; t++) {
      const candidate = join(dirname(this.path), `${this.stem}.${utcStamp(t)}${this.ext}`);
      if (!(await exists(candidate))) return candidate;
    }
  }

  private get ext(): string {
    return extname(this.path);
  }

  private get stem(): string {
    return basename(this.path, this.ext);
  }

  /**
   * Opens the current file for appending (creating it 0600), cuts a torn tail, and on the first
   * open recovers the dedupe window from the tails. On a reopen after a failed group, reads only
   * what lies past the last synced size (lines of the failed group) into the window.
   */
  private async ensureOpen(): Promise<void> {
    if (this.handle) return;
    if (this.closed) throw new Error(`analytics export ${this.path} is closed`);
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const created = !(await exists(this.path));
    const h = await open(this.path, 'a', 0o600);
    try {
      await h.chmod(0o600);
      const st = await h.stat();
      const reader = await open(this.path, 'r');
      let rec: AnalyticsRecovery;
      let end: number;
      try {
        const tail = await repairTail(reader, h, st.size);
        end = tail.end;
        rec = {
          ids: 0,
          bytesRead: tail.bytesRead,
          tornBytes: tail.tornBytes,
          terminated: tail.terminated,
          unreadable: 0,
          files: [this.path],
        };
        if (this.recovered === null) {
          const cur = await scanTail(reader, 0, end, this.window, this.tailBytes);
          rec.bytesRead += cur.bytesRead;
          rec.unreadable += cur.unreadable;
          let older: string[] = [];
          if (cur.reachedStart && cur.ids.length < this.window && cur.bytesRead < this.tailBytes) {
            const prev = await this.newestRotated();
            if (prev) {
              const r = await scanRotated(prev, this.window - cur.ids.length, this.tailBytes - cur.bytesRead);
              older = r.ids;
              rec.bytesRead += r.bytesRead;
              rec.unreadable += r.unreadable;
              rec.files.push(prev);
            }
          }
          // Oldest first, so the window forgets the oldest first.
          for (const id of [...older.reverse(), ...cur.ids.reverse()]) this.remember(id);
          rec.ids = this.ids.size;
        } else if (end > this.synced) {
          // Complete lines a failed group left behind: they are in the file, so remember them.
          const left = await scanTail(reader, Math.min(this.synced, end), end, Number.POSITIVE_INFINITY, end);
          for (const id of left.ids.reverse()) this.remember(id);
          rec = { ...this.recovered, bytesRead: this.recovered.bytesRead + rec.bytesRead };
        } else {
          rec = this.recovered;
        }
      } finally {
        await reader.close();
      }
      this.synced = end;
      this.startedAt = end > 0 ? (st.birthtimeMs > 0 ? st.birthtimeMs : this.now()) : null;
      if (created) await syncDirectory(dir);
      this.recovered = rec;
    } catch (err) {
      await h.close().catch(() => undefined);
      throw err;
    }
    this.handle = h;
    if (!this.timer) {
      this.timer = setInterval(
        () => void this.rotateIfDue().catch(() => undefined),
        Math.max(1000, Math.min(60_000, this.rotateMs / 4)),
      );
      this.timer.unref();
    }
  }

  /** The newest `<name>.<UTC time>.jsonl` beside the current file, or null. */
  private async newestRotated(): Promise<string | null> {
    const dir = dirname(this.path);
    const pattern = new RegExp(
      `^${escapeRegExp(this.stem)}\\.\\d{8}T\\d{6}\\.\\d{3}Z${escapeRegExp(this.ext)}$`,
    );
    const names = (await readdir(dir)).filter((n) => pattern.test(n)).sort();
    const last = names.at(-1);
    return last === undefined ? null : join(dir, last);
  }
}

/** `20261128T101530.123Z`: ISO 8601 basic format in UTC, fixed width so names sort by time. */
function utcStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** fsync of a directory: makes a create or rename in it survive a power cut. */
async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function writeAll(h: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await h.write(data, offset, data.length - offset);
    if (bytesWritten <= 0) throw new Error('analytics export: write made no progress');
    offset += bytesWritten;
  }
}

async function readFully(h: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await h.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new Error('analytics export: file shrank while being read');
    done += bytesRead;
  }
}

/**
 * Finds the end of the last complete line. A file not ending with a newline is cut back to just
 * after its last newline (the torn line's append never resolved); more than 16 MiB without one
 * is not a torn write of ours and is ended with a newline instead.
 */
async function repairTail(
  reader: FileHandle,
  writer: FileHandle,
  size: number,
): Promise<{ end: number; bytesRead: number; tornBytes: number; terminated: boolean }> {
  if (size === 0) return { end: 0, bytesRead: 0, tornBytes: 0, terminated: false };
  let bytesRead = 0;
  let pos = size;
  while (pos > 0 && size - pos < maxLineBytes) {
    const len = Math.min(chunkBytes, pos);
    const buf = Buffer.allocUnsafe(len);
    await readFully(reader, buf, pos - len);
    bytesRead += len;
    pos -= len;
    const nl = buf.lastIndexOf(newline);
    if (nl !== -1) {
      const end = pos + nl + 1;
      if (end < size) {
        await writer.truncate(end);
        await writer.datasync();
      }
      return { end, bytesRead, tornBytes: size - end, terminated: false };
    }
  }
  if (pos === 0) {
    // No newline at all: the file is one torn line.
    await writer.truncate(0);
    await writer.datasync();
    return { end: 0, bytesRead, tornBytes: size, terminated: false };
  }
  await writeAll(writer, Buffer.from('\n'));
  await writer.datasync();
  return { end: size + 1, bytesRead, tornBytes: 0, terminated: true };
}

interface TailScan {
  /** Newest first. */
  ids: string[];
  bytesRead: number;
  unreadable: number;
  /** Every line down to `floor` was read (no budget or hole stopped the scan). */
  reachedStart: boolean;
}

/**
 * Reads the complete lines in [floor, end) backwards (end is just after a newline) and collects
 * event ids, newest first, until `want` ids, the budget of bytes, or a 16 MiB stretch without a
 * newline. Only whole lines are decoded, so a chunk boundary inside a character is harmless.
 */
async function scanTail(
  reader: FileHandle,
  floor: number,
  end: number,
  want: number,
  budget: number,
): Promise<TailScan> {
  const out: TailScan = { ids: [], bytesRead: 0, unreadable: 0, reachedStart: false };
  const take = (line: Buffer) => {
    if (line.length === 0) return;
    try {
      const parsed = JSON.parse(line.toString('utf8')) as { id?: unknown } | null;
      if (parsed !== null && typeof parsed === 'object' && typeof parsed.id === 'string') {
        out.ids.push(parsed.id);
        return;
      }
    } catch {
      // not an event (a line torn under an older version and glued to the next, zero-filled
      // blocks): skipped, the lines before it are still ours
    }
    out.unreadable++;
  };
  // The region without its final newline: every newline found separates two lines.
  let pos = end - 1;
  /** Pieces of the line whose start is not read yet, in file order. */
  let partial: Buffer[] = [];
  let partialBytes = 0;
  while (pos > floor && out.ids.length < want && out.bytesRead < budget) {
    const len = Math.min(chunkBytes, pos - floor, budget - out.bytesRead);
    const buf = Buffer.allocUnsafe(len);
    await readFully(reader, buf, pos - len);
    out.bytesRead += len;
    pos -= len;
    let stop = len;
    while (stop > 0 && out.ids.length < want) {
      const nl = buf.lastIndexOf(newline, stop - 1);
      if (nl === -1) break;
      take(
        partial.length === 0
          ? buf.subarray(nl + 1, stop)
          : Buffer.concat([buf.subarray(nl + 1, stop), ...partial]),
      );
      partial = [];
      partialBytes = 0;
      stop = nl;
    }
    if (out.ids.length >= want) return out;
    if (stop > 0) {
      partial.unshift(buf.subarray(0, stop));
      partialBytes += stop;
      if (partialBytes > maxLineBytes) return out;
    }
  }
  if (pos <= floor && out.ids.length < want) {
    take(Buffer.concat(partial));
    out.reachedStart = true;
  }
  return out;
}

/** {@link scanTail} over a rotated file, read-only; a last line without newline is skipped. */
async function scanRotated(path: string, want: number, budget: number): Promise<TailScan> {
  const reader = await open(path, 'r');
  try {
    const { size } = await reader.stat();
    // Find the end of its last complete line without changing the file.
    let end = size;
    let bytesRead = 0;
    if (size > 0) {
      const len = Math.min(maxLineBytes, size);
      let pos = size;
      end = 0;
      while (pos > size - len) {
        const n = Math.min(chunkBytes, pos - (size - len));
        const buf = Buffer.allocUnsafe(n);
        await readFully(reader, buf, pos - n);
        bytesRead += n;
        pos -= n;
        const nl = buf.lastIndexOf(newline);
        if (nl !== -1) {
          end = pos + nl + 1;
          break;
        }
      }
    }
    if (end === 0) return { ids: [], bytesRead, unreadable: 0, reachedStart: true };
    const r = await scanTail(reader, 0, end, want, Math.max(0, budget - bytesRead));
    return { ...r, bytesRead: r.bytesRead + bytesRead };
  } finally {
    await reader.close();
  }
}
