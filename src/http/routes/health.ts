/** Liveness (the process answers) and readiness (store reachable, migrations applied). */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../ports/index.js';

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { store: Store; extraChecks?: () => Promise<Record<string, unknown>> },
): void {
  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    try {
      const r = await deps.store.ready();
      const body = {
        status: r.ok ? 'ready' : 'not_ready',
        store: deps.store.backend,
        schemaVersion: r.schemaVersion,
        latestVersion: r.latestVersion,
      };
      return reply.code(r.ok ? 200 : 503).send(body);
    } catch {
      return reply
        .code(503)
        .send({ status: 'not_ready', store: deps.store.backend, error: 'store unreachable' });
    }
  });
}
