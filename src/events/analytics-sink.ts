/**
 * The analytics export's destination: JSON lines, one event per line, idempotent by event id.
 *
 * Why idempotent at the sink: the dispatcher is at-least-once (a crash between the write and
 * the completion redelivers), and a warehouse loading this file counts rows. The file sink
 * loads the ids already written when it opens and skips them, so a redelivery after a restart
 * adds nothing. Concurrent appends are coalesced into one write (group write): the handler's
 * promise resolves only after its line is in the file, yet 500 deliveries cost one syscall.
 */
import { existsSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import type { CloudEvent } from '../domain/index.js';

/** Where the analytics export writes. */
export interface AnalyticsSink {
  /** Appends the event unless its id was written before; true when it was written now. */
  append(event: CloudEvent): Promise<boolean>;
  /** How many distinct events the sink holds. */
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

/** A JSON-lines file sink (the export a warehouse loader tails). */
export class FileAnalyticsSink implements AnalyticsSink {
  private readonly ids = new Set<string>();
  private pending: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(readonly path: string) {
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.length === 0) continue;
        try {
          const parsed = JSON.parse(line) as { id?: unknown };
          if (typeof parsed.id === 'string') this.ids.add(parsed.id);
        } catch {
          // a torn last line (crash mid-write) is not an id; its event will be rewritten
        }
      }
    }
  }

  append(event: CloudEvent): Promise<boolean> {
    if (this.ids.has(event.id)) return Promise.resolve(false);
    this.ids.add(event.id);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({
        line: `${JSON.stringify(event)}\n`,
        resolve: () => resolve(true),
        reject: (e) => {
          this.ids.delete(event.id);
          reject(e);
        },
      });
      if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flush());
    });
  }

  get size(): number {
    return this.ids.size;
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await appendFile(this.path, batch.map((p) => p.line).join(''));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = null;
  }
}
