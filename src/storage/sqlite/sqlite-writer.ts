/**
 * Entry of the SQLite writer thread: owns the one writing connection of a file store and runs
 * every write operation sent by `SqliteStore`, so COMMIT and its WAL fsync (and checkpoints) block
 * this thread instead of the event loop that parses HTTP.
 *
 * Group commit falls out of the loop: while one transaction runs, new requests queue up in the
 * port; before each group the loop takes everything waiting (`receiveMessageOnPort`), up to
 * `maxGroup`, and commits it as one transaction with a savepoint per write.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { type SerializedError, serializeError } from '../core/errors.js';
import { Connection, type ConnectionOptions, GroupWriter, type WriteRequest } from './group-writer.js';

/** What the store hands the writer thread at start. */
export interface WriterData {
  port: MessagePort;
  connection: ConnectionOptions;
  maxGroup: number;
}

/** Store → writer. `close` comes after every write the store sent, so it is handled last. */
export type ToWriter = { type: 'writes'; requests: WriteRequest[] } | { type: 'close' };

/** One result back to the store. */
export type WriterResult =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

/** Writer → store. */
export type FromWriter = { type: 'results'; results: WriterResult[] } | { type: 'closed' };

const data = workerData as WriterData;
const port = data.port;
// An open failure throws here: the store sees the worker's `error` event and fails every call.
const writer = new GroupWriter(new Connection(data.connection), {
  full: data.connection.synchronous === 'FULL',
  maxGroup: data.maxGroup,
});
const queue: WriteRequest[] = [];
let closing = false;

function accept(message: ToWriter): void {
  if (message.type === 'writes') {
    for (const r of message.requests) queue.push(r);
  } else if (message.type === 'close') {
    closing = true;
  }
}

function drain(): void {
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    accept(m.message as ToWriter);
  }
}

function pump(): void {
  for (;;) {
    drain();
    if (queue.length === 0) break;
    const { requests, outcomes } = writer.runNext(queue);
    const results: WriterResult[] = requests.map((r, i) => {
      const o = outcomes[i]!;
      return o.ok
        ? { id: r.id, ok: true, value: o.value }
        : { id: r.id, ok: false, error: serializeError(o.error) };
    });
    port.postMessage({ type: 'results', results } satisfies FromWriter);
  }
  if (closing) {
    writer.conn.close();
    port.postMessage({ type: 'closed' } satisfies FromWriter);
    port.close();
  }
}

port.on('message', (message: ToWriter) => {
  accept(message);
  pump();
});
