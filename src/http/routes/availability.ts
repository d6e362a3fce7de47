/**
 * Available-to-promise by warehouse, with the age of the data: what a sales rep quoting from
 * the CRM, or the customer portal, needs — and how fresh it is.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock, Store } from '../../ports/index.js';
import { requireScope } from '../middleware/index.js';

const Query = z.object({
  sku: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(1).max(64)).min(1).max(200)),
});

export function registerAvailabilityRoutes(app: FastifyInstance, deps: { store: Store; clock: Clock }): void {
  app.get('/api/v1/availability', { preHandler: requireScope('orders:read') }, async (request) => {
    const { sku: skus } = Query.parse(request.query);
    const positions = await deps.store.getInventory(skus);
    const now = deps.clock.now().getTime();
    return {
      items: skus.map((sku) => {
        const mine = positions.filter((p) => p.sku === sku);
        const oldest = mine.reduce<string | null>((o, p) => (o === null || p.asOf < o ? p.asOf : o), null);
        return {
          sku,
          totalAvailable: mine.reduce((s, p) => s + p.available, 0),
          warehouses: mine.map((p) => ({
            warehouseId: p.warehouseId,
            onHand: p.onHand,
            allocated: p.allocated,
            reserved: p.reserved,
            available: p.available,
            inbound: p.inbound,
            asOf: p.asOf,
          })),
          asOf: oldest,
          ageSeconds: oldest === null ? null : Math.max(0, Math.round((now - Date.parse(oldest)) / 1000)),
          known: mine.length > 0,
        };
      }),
    };
  });
}
