/** `crossdock trace <orderId>`: the order's cross-system timeline, read from the store. */
import type { Writable } from 'node:stream';
import { createStore } from '../storage/index.js';
import { type CrossdockConfig, storeOptions } from './config.js';

export async function runTrace(config: CrossdockConfig, orderId: string, out: Writable): Promise<number> {
  const store = await createStore(storeOptions(config));
  try {
    const order = await store.getOrder(orderId);
    if (!order) {
      out.write(`order ${orderId} not found\n`);
      return 1;
    }
    out.write(
      `${order.id}  ${order.state} (${order.customerStatus})  customer ${order.customerId ?? '-'}  total ${order.total} ${order.currency}\n`,
    );
    const refs = Object.entries(order.externalIds)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    out.write(`correlation ${order.correlationId}${refs ? `  refs ${refs}` : ''}\n`);
    for (const h of order.holds)
      out.write(`  hold ${h.reason} (${h.owner})${h.resolvedAt ? ' resolved' : ''}: ${h.detail}\n`);
    out.write('\n');
    const entries = await store.getTimeline(orderId);
    const start = entries[0] ? Date.parse(entries[0].at) : 0;
    for (const e of entries) {
      const offset = `+${String(Date.parse(e.at) - start).padStart(6)}ms`;
      const dur = e.durationMs === null ? '' : ` ${e.durationMs.toFixed(2)}ms`;
      out.write(
        `${offset}  ${e.kind.padEnd(8)} ${e.system.padEnd(10)} ${e.name.padEnd(28)} ${e.outcome}${dur}\n`,
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
