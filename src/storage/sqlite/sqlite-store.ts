/**
 * SQLite backend (better-sqlite3, WAL): the embedded default, zero set-up.
 *
 * Writes run on a writer thread (`writer: 'worker'`, the default for files). It owns its own
 * connection to the same file and runs every write (commit units, master data, api keys,
 * subscriptions, delivery bookkeeping, exception actions, migrations) through the same core
 * generators, looked up by name in `core/write-ops.ts`. The main thread keeps a `query_only`
 * connection for reads; a write promise resolves only after its COMMIT returned on the writer, so a
 * read started after that sees it (WAL snapshot; tested). `:memory:` cannot be shared by a thread,
 * so it (and `writer: 'inline'`) runs the same `GroupWriter` on the caller's thread.
 *
 * Group commit: the store queues writes and hands them over once per event-loop turn, from
 * `setImmediate` (the check phase runs after libuv handed over every readable socket, so
 * concurrent HTTP requests land in one hand-over). The writer takes everything waiting when it
 * starts a transaction (`receiveMessageOnPort`), up to 500 writes, each in its own SAVEPOINT so a
 * failing unit rolls back alone, and posts the results back once per group. A group of claim /
 * complete / release only runs with `synchronous=NORMAL` (see `relaxedWriteOps`); anything else is
 * FULL, the default, power-loss durable. Commit units cross the thread as JSON text: they are JSON
 * data by design, and the text is cheaper to clone than the object graph. Errors come back as
 * plain data and are rebuilt as `CrossdockError` with the same kind, owner and details. If the
 * thread dies, pending and later writes fail with `downstream_outage` and `ready()` reports false.
 *
 * Measured (2-core box shared with other engineers' test runs; medians of 3 runs, interleaved
 * before/after, load average 5.1-6.0 throughout, so absolute numbers are low and noisy):
 *   /tmp/wfbench (real quote-to-order workflow, file DB)   inline (before)      writer thread
 *     FULL   C=16   orders/s | event loop busy µs/order      883 | 1,133          719 |   748
 *     FULL   C=64                                          1,481 |   675          984 |   591
 *     FULL   C=1                                             271 | 3,696          312 | 1,071
 *     NORMAL C=16                                          1,009 |   991          924 |   687
 *     NORMAL C=64                                          1,102 |   907        1,202 |   515
 *     NORMAL C=1                                             664 | 1,506          516 | 1,130
 *   event-loop utilisation: 1.00 inline in every run; 0.3-0.6 with the writer thread.
 *   commit-bench (256 in flight, load ~5): FULL group 5,300 commits/s inline vs 3,500 worker;
 *     4 reads + 2 commits 2,800 orders/s inline (event loop busy 358 µs/order) vs 1,770/s worker
 *     (147 µs/order).
 * Why the writer thread anyway: what the HTTP hub runs out of is event-loop time, and the thread
 * takes 12-70 % of it off (the COMMIT's fsync, checkpoints and the statements of every write); the
 * in-process benchmarks above are closed loops at fixed concurrency on a CPU-saturated machine, so
 * they show the added hand-over latency (two thread wake-ups per group, ~2 ms each under this load)
 * and the thread's own CPU, not the freed event loop. With `writer: 'inline'` the old behaviour is
 * one option away. Tried and not kept (no difference beyond the noise at this load):
 * `wal_autocheckpoint` 100 / 10,000 on the writer, `mmap_size` 256 MB on the reader, handing
 * writes over every 8 or 32 queued instead of once per turn.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type CloudEvent, CrossdockError } from '../../domain/index.js';
import type {
  ClaimOptions,
  Clock,
  CommitResult,
  CommitUnit,
  Delivery,
  SubscriptionStats,
} from '../../ports/index.js';
import { systemClock } from '../../ports/index.js';
import * as deliveries from '../core/deliveries.js';
import { deserializeError, mapSqliteError } from '../core/errors.js';
import { sqliteDialect, type Txn } from '../core/sql.js';
import { SqlStore } from '../core/sql-store.js';
import type { WriteArgs, WriteOpName, WriteResult } from '../core/write-ops.js';
import {
  Connection,
  type ConnectionOptions,
  GroupWriter,
  latestOf,
  maxGroupSize,
  type WriteOutcome,
  type WriteRequest,
} from './group-writer.js';
import { sqliteMigrations } from './migrations/index.js';
import type { FromWriter, ToWriter, WriterData } from './sqlite-writer.js';

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  filename: string;
  /** `FULL` (default) survives power loss; `NORMAL` survives a killed process only. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Group concurrent writes into one transaction (default true); off only for measurements. */
  groupCommit?: boolean;
  /**
   * Where writes run: `worker` (default for files) on a writer thread with its own connection,
   * `inline` on the caller's thread. `:memory:` is always inline: a worker cannot share it.
   */
  writer?: 'worker' | 'inline';
  /** How long a writer waits for another connection's lock (default 5,000 ms). */
  busyTimeoutMs?: number;
  clock?: Clock;
}

interface Pending {
  request: WriteRequest;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The writer thread's entry, next to this module: `sqlite-writer.js` in `dist/`. Run from the
 * sources (vitest, tsx) it is `sqlite-writer.ts`, and Node 20 does not apply `--import tsx` hooks
 * inside a worker, so a tiny bootstrap registers tsx's ESM loader in the thread, then imports it.
 */
function writerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { entry: new URL('./sqlite-writer.js', import.meta.url), eval: false };
  const source = new URL('./sqlite-writer.ts', import.meta.url).href;
  // tsx's CommonJS entry sits beside the ESM one we need (its own CJS shim misresolves it).
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  return {
    entry: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); });`,
    eval: true,
  };
}

/**
 * Queued writes that go to the writer thread at once instead of at the end of the event-loop turn.
 * Why: when a group's results come back, the event loop runs every continuation they unblock in
 * one turn (~300 µs of decision work per order), so waiting for the turn's end handed the writer
 * one group of ~120 units and then left it idle while the next was built, and the event loop
 * idle while the writer committed: measured in-process, both threads ~50 % idle. Sending every
 * `eagerFlushAt` units lets the writer commit the first units of a turn while the rest are made.
 */
const eagerFlushAt = 16;

/** Events kept by seq for cursor claims (~1 s of events at full load; a miss reads the outbox). */
const maxRecentEvents = 10_000;

/** The embedded `Store`: reads on the caller's thread, writes group-committed on a writer. */
export class SqliteStore extends SqlStore {
  readonly backend = 'sqlite' as const;
  protected readonly dialect = sqliteDialect;
  /** The database file (or `:memory:`), so a second connection can open the same file. */
  readonly filename: string;
  /** Where writes run (see `SqliteStoreOptions.writer`). */
  readonly writerMode: 'worker' | 'inline';
  /** The read connection; in inline mode also the writer's. */
  private readonly reader: Connection;
  /** Inline mode only: the group writer on `reader`'s connection. */
  private readonly inline: GroupWriter | null = null;
  /** Worker mode only. */
  private readonly worker: Worker | null = null;
  /** Worker mode only: the thread that checkpoints the WAL (PASSIVE) every 200 ms. */
  private readonly checkpointer: Worker | null = null;
  private readonly port: MessagePort | null = null;
  private readonly groupCommit: boolean;
  private queue: Pending[] = [];
  private readonly inflight = new Map<number, Pending>();
  private nextId = 1;
  private flushScheduled = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Set when the writer thread died: every pending and later write fails with it. */
  private broken: CrossdockError | null = null;
  private workerExited: Promise<void> = Promise.resolve();
  /**
   * The events of the latest commits by outbox seq, as the committer built them. Cursor claims
   * come back without payloads and take their events from here (a miss reads the outbox on this
   * thread). Why: every event goes to four or five subscriptions, and each claim used to read the
   * payload on the writer thread, parse it there and clone the object graph across: ~18 times per
   * order, all-in-one. Handlers share these objects and must not change them (none does).
   */
  private readonly recentEvents = new Map<number, CloudEvent>();

  /** Throws a `downstream_outage` when the file cannot be opened. */
  constructor(options: SqliteStoreOptions) {
    super(options.clock ?? systemClock);
    this.filename = options.filename;
    this.groupCommit = options.groupCommit ?? true;
    const memory = options.filename === ':memory:' || options.filename === '';
    this.writerMode = memory ? 'inline' : (options.writer ?? 'worker');
    const connection: ConnectionOptions = {
      filename: options.filename,
      synchronous: options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    };
    const maxGroup = this.groupCommit ? maxGroupSize : 1;
    const full = connection.synchronous === 'FULL';
    if (this.writerMode === 'inline') {
      this.reader = new Connection(connection);
      this.inline = new GroupWriter(this.reader, { full, maxGroup });
      return;
    }
    // The reader opens first so an unopenable file fails here, synchronously, as before.
    this.reader = new Connection({ ...connection, queryOnly: true });
    const { port1, port2 } = new MessageChannel();
    const { entry, eval: evalEntry } = writerEntry();
    // Checkpoints (copying WAL pages into the database file, with its fsync) run on a thread of
    // their own in PASSIVE mode, so they never stall the writer: measured API-only, 1,700 →
    // 2,290 orders/s against the writer checkpointing every 1,000 pages itself. The writer keeps
    // a high auto-checkpoint as a backstop should the checkpointer fall behind.
    const data: WriterData = {
      port: port2,
      connection: { ...connection, walAutocheckpoint: 50_000 },
      maxGroup,
    };
    const worker = new Worker(entry, { eval: evalEntry, workerData: data, transferList: [port2] });
    this.worker = worker;
    this.port = port1;
    port1.on('message', (m: FromWriter) => this.onWriterMessage(m));
    this.workerExited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        // Results the writer posted before it ended may still sit in the port: settle them first.
        for (let m = receiveMessageOnPort(port1); m !== undefined; m = receiveMessageOnPort(port1)) {
          this.onWriterMessage(m.message as FromWriter);
        }
        if (!this.closing || this.inflight.size > 0)
          this.fail(`the SQLite writer thread exited (code ${code})`);
        resolve();
      });
    });
    worker.on('error', (err) => this.fail(`the SQLite writer thread failed: ${err.message}`, err));
    this.checkpointer = startCheckpointer(options.filename, options.busyTimeoutMs ?? 5000);
    // Idle, the writer must not keep the process alive (an inline store never did).
    worker.unref();
    port1.unref();
  }

  protected read<T>(txn: () => Txn<T>): Promise<T> {
    try {
      return Promise.resolve(this.reader.drive(txn()));
    } catch (err) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  /** Unused: every write goes through `writeOp`, by name, so it can cross to the writer thread. */
  protected write<T>(_txn: () => Txn<T>): Promise<T> {
    return Promise.reject(mapSqliteError(new Error('SqliteStore writes go through writeOp')));
  }

  protected override writeOp<K extends WriteOpName>(op: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    return this.submit(op, args as unknown[]) as Promise<WriteResult<K>>;
  }

  private submit(op: WriteRequest['op'], args: unknown[]): Promise<unknown> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed || this.closing) return Promise.reject(mapSqliteError(new Error('store is closed')));
    return new Promise<unknown>((resolve, reject) => {
      const now = this.clock.now().getTime();
      const request: WriteRequest =
        op === 'commit' && this.worker
          ? { id: this.nextId++, op, args: [], json: JSON.stringify(args[0]), now }
          : { id: this.nextId++, op, args, now };
      this.queue.push({ request, resolve, reject });
      if (this.inline && !this.groupCommit) {
        this.flush();
      } else if (this.worker && this.queue.length >= eagerFlushAt) {
        this.send();
      } else if (!this.flushScheduled) {
        // `setImmediate` rather than a microtask: the check phase runs after libuv has handed over
        // every socket readable in this turn, so concurrent HTTP requests land in the same group.
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  override async commit(unit: CommitUnit): Promise<CommitResult> {
    const result = await this.writeOp('commit', [unit]);
    if (result.status === 'committed' && unit.events) {
      const seqs = result.eventSeqs;
      for (let i = 0; i < seqs.length; i++) this.recentEvents.set(seqs[i]!, unit.events[i]!);
      if (this.recentEvents.size > maxRecentEvents) {
        let drop = this.recentEvents.size - maxRecentEvents;
        for (const seq of this.recentEvents.keys()) {
          this.recentEvents.delete(seq);
          if (--drop === 0) break;
        }
      }
    }
    return result;
  }

  /**
   * In one read transaction: the figures come from several tables (subscriptions, rows, blocks, the
   * outbox) and the writer thread commits between statements otherwise, so a claim landing in
   * between would count its events twice (outbox, then block) or a block turning into rows not at
   * all; `pending + leased` must be 0 only when everything is delivered.
   */
  override subscriptionStats(): Promise<SubscriptionStats[]> {
    const now = this.clock.now();
    try {
      const snapshot = this.reader.db.transaction(() =>
        this.reader.drive(deliveries.subscriptionStats(this.dialect, now)),
      );
      return Promise.resolve(snapshot());
    } catch (err) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  override async claimDeliveries(subscription: string, options: ClaimOptions): Promise<Delivery[]> {
    const batch = await this.writeOp('claimDeliveries', [subscription, { ...options, omitPayloads: true }]);
    const missing: number[] = [];
    for (const d of batch) {
      if (d.event !== null) continue;
      const event = this.recentEvents.get(d.eventSeq);
      if (event) d.event = event;
      else missing.push(d.eventSeq);
    }
    if (missing.length > 0) {
      const read = await this.read(() => deliveries.eventsBySeq(this.dialect, missing));
      for (const d of batch) {
        if (d.event === null) d.event = read.get(d.eventSeq) as CloudEvent;
      }
    }
    return batch;
  }

  /** Hands everything queued in this turn to the writer (inline: runs it now). */
  private flush(): void {
    this.flushScheduled = false;
    this.send();
  }

  /** Hands everything queued so far to the writer (inline: runs it now). */
  private send(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    if (this.inline) {
      const requests = batch.map((p) => p.request);
      let at = 0;
      while (requests.length > 0) {
        const { outcomes } = this.inline.runNext(requests);
        for (const o of outcomes) settle(batch[at++]!, o);
      }
      return;
    }
    if (this.broken) {
      for (const p of batch) p.reject(this.broken);
      return;
    }
    try {
      this.port!.postMessage({ type: 'writes', requests: batch.map((p) => p.request) } satisfies ToWriter);
    } catch (err) {
      // Arguments that cannot be cloned (functions, class instances with private state).
      const error = CrossdockError.dataQuality(
        `store: write arguments cannot be sent to the writer: ${String(err)}`,
        {
          details: { backend: 'sqlite' },
        },
      );
      for (const p of batch) p.reject(error);
      return;
    }
    if (this.inflight.size === 0) {
      this.worker!.ref();
      this.port!.ref();
    }
    for (const p of batch) this.inflight.set(p.request.id, p);
  }

  private onWriterMessage(m: FromWriter): void {
    if (m.type !== 'results') return;
    for (const r of m.results) {
      const p = this.inflight.get(r.id);
      if (!p) continue;
      this.inflight.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(deserializeError(r.error));
    }
    if (this.inflight.size === 0 && !this.closing) {
      this.worker!.unref();
      this.port!.unref();
    }
  }

  /** The writer thread is gone: reject everything pending, and every later write. */
  private fail(message: string, cause?: unknown): void {
    if (this.broken) return;
    this.broken = CrossdockError.downstreamOutage(`store unavailable: ${message}`, {
      details: { backend: 'sqlite', filename: this.filename },
      ...(cause !== undefined ? { cause } : {}),
    });
    const pending = [...this.inflight.values(), ...this.queue];
    this.inflight.clear();
    this.queue = [];
    for (const p of pending) p.reject(this.broken);
  }

  async migrate(): Promise<number[]> {
    return (await this.submit('migrate', [])) as number[];
  }

  async ready(): Promise<{ ok: boolean; schemaVersion: number; latestVersion: number }> {
    const latestVersion = latestOf(sqliteMigrations);
    try {
      const db = this.reader.db;
      const table = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get();
      const schemaVersion = table
        ? Number(
            (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ??
              0,
          )
        : 0;
      return { ok: !this.broken && schemaVersion === latestVersion, schemaVersion, latestVersion };
    } catch {
      return { ok: false, schemaVersion: 0, latestVersion };
    }
  }

  /** Commits every write already made, stops the writer thread, closes both connections. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.checkpointer?.terminate();
    this.flush();
    if (this.worker && this.port) {
      if (!this.broken) {
        this.worker.ref();
        this.port.ref();
        // Ordered after every write sent: the writer commits them, closes its connection, exits.
        this.port.postMessage({ type: 'close' } satisfies ToWriter);
        const closed = new Promise<void>((resolve) => {
          this.port!.on('message', (m: FromWriter) => {
            if (m.type === 'closed') resolve();
          });
        });
        await Promise.race([closed, this.workerExited]);
      }
      this.closed = true;
      this.port.close();
      await this.worker.terminate();
    }
    this.closed = true;
    // The reader closes last: as the last connection it checkpoints the WAL into the database.
    this.reader.close();
  }
}

/**
 * A thread with its own connection running `PRAGMA wal_checkpoint(PASSIVE)` every 200 ms:
 * PASSIVE never waits for readers or the writer, it copies what it can. Plain CommonJS eval
 * code, so it runs the same from dist/ and under vitest; better-sqlite3 is resolved here.
 */
function startCheckpointer(filename: string, busyTimeoutMs: number): Worker {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `
    const { workerData } = require('node:worker_threads');
    const Database = require(workerData.driver);
    const db = new Database(workerData.filename);
    db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
    setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* next round */ } }, 200);
  `;
  const worker = new Worker(code, { eval: true, workerData: { driver, filename, busyTimeoutMs } });
  worker.on('error', () => undefined);
  worker.unref();
  return worker;
}

function settle(p: Pending, o: WriteOutcome): void {
  if (o.ok) p.resolve(o.value);
  else p.reject(o.error);
}
