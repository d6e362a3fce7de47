/**
 * The reference point of issue 2, run on this machine: a bare Fastify + zod route that commits
 * ONE SQLite transaction of 15 rows per order, inline on the event loop, and answers 201. No
 * auth, no idempotency, no decision steps, no ERP, no outbox delivery. `crossdock bench baseline`
 * starts it as a child process and loads it exactly as `bench orders` loads the hub, so the two
 * figures share a machine and a load generator. Not part of the product.
 *
 *   node baseline-server.js <database file> <FULL|NORMAL>   → prints "listening on http://…"
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { OrderSubmission } from '../domain/index.js';

const [file, synchronous] = process.argv.slice(2);
if (!file || (synchronous !== 'FULL' && synchronous !== 'NORMAL')) {
  process.stderr.write('usage: baseline-server <database file> <FULL|NORMAL>\n');
  process.exit(2);
}
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${synchronous}`);
db.exec(`
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer TEXT NOT NULL, doc TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS order_rows (order_id TEXT NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (order_id, n));
`);
const insertOrder = db.prepare('INSERT INTO orders (id, customer, doc, created_at) VALUES (?, ?, ?, ?)');
const insertRow = db.prepare('INSERT INTO order_rows (order_id, n, kind, body) VALUES (?, ?, ?, ?)');
/** 1 order row + 14 rows (its lines, then timeline/outbox-like rows) = 15 rows, one transaction. */
const commit = db.transaction((id: string, order: OrderSubmission, now: string) => {
  insertOrder.run(id, order.customer.id ?? '', JSON.stringify(order), now);
  for (let n = 0; n < 14; n++) {
    const line = order.lines[n];
    insertRow.run(
      id,
      n,
      line ? 'line' : 'event',
      line ? JSON.stringify(line) : `{"step":${n},"at":"${now}"}`,
    );
  }
});

const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
app.post('/api/v1/orders', async (request, reply) => {
  const parsed = OrderSubmission.safeParse(request.body);
  if (!parsed.success) return reply.code(422).send({ errors: parsed.error.issues.length });
  const id = randomUUID();
  commit(id, parsed.data, new Date().toISOString());
  return reply.code(201).send({ id, state: 'accepted' });
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on ${address}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    db.close();
    process.exit(0);
  });
});
