/**
 * The simulators as a separate process: their port operations over HTTP (`/sim-api/…`), so a
 * hub can talk to a simulated estate that outlives it.
 *
 * Why this exists: crash tests SIGKILL the hub. With the simulators inside the hub, the kill
 * also wipes the ERP's orders and the notifications sent, which are exactly the effects a crash
 * test must count ("no second ERP order", "no second notification"). Served from another
 * process (the test runner, or `scripts/sim-server.ts`), they survive every kill, and their
 * idempotency (by key, inside each simulator) is what the hub relies on end to end.
 *
 * Wire format: `POST /sim-api/{system}/{operation}` with `{ "args": [...] }` (the port method's
 * arguments; trailing `undefined`s dropped by the client, since JSON has no `undefined`) answers
 * `{ "result": … }`. A failure is `application/problem+json` carrying the `CrossdockError`'s
 * `kind`, `retryable`, `owner`, `details` and `retryAfterMs`, so the client rebuilds the very
 * error the in-process simulator would have thrown. Only port operations are callable (an
 * allow-list), never the drivers or inspection helpers; those stay on the `/sim/*` routes.
 *
 * Loopback only: the server has no API keys (it is a test fixture for a hub on the same
 * machine), and its `/sim/*` routes can take every simulated system down, so
 * `startSimulatorServer` refuses to listen on anything but a loopback address.
 */
import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import { CrossdockError, toCrossdockError } from '../domain/index.js';
import type { Clock } from '../ports/index.js';
import { systemClock } from '../ports/index.js';
import { registerSimulatorRoutes } from './http.js';
import { createSimulators, type SimulatedSystem, type Simulators } from './index.js';

/** Path prefix of the port API. */
export const simPortApiPrefix = '/sim-api';

/** The port operations callable per system: exactly the methods of the port interfaces. */
export const simPortOperations: Record<SimulatedSystem, readonly string[]> = {
  erp: [
    'findCustomerByExternalId',
    'createCustomer',
    'updateCustomer',
    'getCreditExposure',
    'getProducts',
    'getCustomerPrices',
    'getStock',
    'createSalesOrder',
    'confirmSalesOrder',
    'getSalesOrder',
    'cancelSalesOrder',
    'changesSince',
  ],
  crm: ['getAccount', 'upsertOrderStatus', 'addActivity'],
  wms: ['getInventory', 'releaseOrder', 'cancelRelease', 'milestonesSince'],
  tms: ['bookShipment', 'milestonesSince'],
  notifications: ['send'],
};

/** What `GET /sim-api/info` answers: enough for a hub to match its master data to this estate. */
export interface SimPortInfo {
  seed: number;
  /** The data set's day (YYYY-MM-DD) and generation time. */
  today: string;
  generatedAt: string;
  /** `system` name of each port, as the in-process simulators report it. */
  systems: Record<SimulatedSystem, string>;
  /** Process id of the server (lets a crash test check it is not the hub's). */
  pid: number;
}

/** HTTP status of each failure kind on the port API (the client reads `kind`, not the status). */
const statusOfKind: Record<CrossdockError['kind'], number> = {
  transient: 503,
  downstream_outage: 503,
  data_quality: 422,
  policy_violation: 422,
  conflict: 409,
};

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const e = toCrossdockError(err);
  const status = e.kind === 'transient' && e.retryAfterMs !== undefined ? 429 : statusOfKind[e.kind];
  if (e.retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(e.retryAfterMs / 1000)));
  return reply
    .code(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://crossdock.dev/problems/sim-${e.kind.replace(/_/g, '-')}`,
        title: e.kind,
        status,
        detail: e.message,
        kind: e.kind,
        retryable: e.retryable,
        owner: e.owner,
        details: e.details,
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
      }),
    );
}

/** Options of {@link simulatorPortApi}. */
export interface SimulatorPortApiOptions {
  sims: Simulators;
}

/**
 * Fastify plugin: the port API of `sims` under `/sim-api`, plus `GET /sim-api/info` and
 * `GET /sim-api/data` (the seeded data set, from which the hub loads its master data).
 */
export const simulatorPortApi: FastifyPluginAsync<SimulatorPortApiOptions> = async (app, options) => {
  const { sims } = options;
  const info = (): SimPortInfo => ({
    seed: sims.data.seed,
    today: sims.data.today,
    generatedAt: sims.data.generatedAt,
    systems: {
      crm: sims.crm.system,
      erp: sims.erp.system,
      wms: sims.wms.system,
      tms: sims.tms.system,
      notifications: sims.notifications.system,
    },
    pid: process.pid,
  });
  app.get(`${simPortApiPrefix}/info`, async () => info());
  // Serialised once: the data set is immutable after generation and a few MB of JSON.
  let dataJson: string | null = null;
  app.get(`${simPortApiPrefix}/data`, async (_req, reply) => {
    dataJson ??= JSON.stringify(sims.data);
    return reply.type('application/json').send(dataJson);
  });

  for (const system of Object.keys(simPortOperations) as SimulatedSystem[]) {
    const target = sims[system] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const operation of simPortOperations[system]) {
      app.post<{ Body: { args?: unknown } }>(
        `${simPortApiPrefix}/${system}/${operation}`,
        async (request, reply) => {
          const args = request.body?.args ?? [];
          if (!Array.isArray(args)) {
            return sendError(
              reply,
              CrossdockError.dataQuality('body.args must be an array of the operation arguments', {
                details: { field: 'args' },
              }),
            );
          }
          try {
            const result = await target[operation]!.apply(sims[system], args);
            return reply.type('application/json').send(JSON.stringify({ result: result ?? null }));
          } catch (err) {
            return sendError(reply, err);
          }
        },
      );
    }
  }
};

/** Options of {@link startSimulatorServer}. */
export interface SimulatorServerOptions {
  seed?: number;
  /** A loopback address (default `127.0.0.1`); anything else is refused. */
  host?: string;
  /** 0 = any free port. */
  port?: number;
  clock?: Clock;
  /** Scales every ERP credit limit (as `simulators.creditLimitMultiplier` does in process). */
  creditLimitMultiplier?: number;
  /** Also serve the `/sim/*` inspection and fault routes (default true). */
  inspection?: boolean;
  /** Reuse simulators the caller built (a test that counts their effects). */
  sims?: Simulators;
}

/** A running simulator server. */
export interface SimulatorServer {
  url: string;
  sims: Simulators;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Whether `host` names a loopback interface only: 127.0.0.0/8, ::1 (also IPv4-mapped) or localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(h) === 6 && (h === '::1' || h === '0:0:0:0:0:0:0:1');
}

/** Builds the simulators (or takes the given ones) and serves them over HTTP, on loopback only. */
export async function startSimulatorServer(options: SimulatorServerOptions = {}): Promise<SimulatorServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw CrossdockError.policyViolation(
      `The simulator server listens on loopback only (it has no API keys); refusing host ${JSON.stringify(host)}`,
      { owner: 'integration', details: { field: 'host' } },
    );
  }
  const clock = options.clock ?? systemClock;
  const sims = options.sims ?? createSimulators({ seed: options.seed ?? 42, clock });
  const multiplier = options.creditLimitMultiplier ?? 1;
  if (!options.sims && multiplier !== 1) {
    for (const c of sims.data.erpCustomers) sims.erp.setCreditLimit(c.erpId, c.creditLimit * multiplier);
  }
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024, keepAliveTimeout: 60_000 });
  await app.register(simulatorPortApi, { sims });
  if (options.inspection ?? true) registerSimulatorRoutes(app, sims);
  const url = await app.listen({ host, port: options.port ?? 0 });
  return { url, sims, app, close: () => app.close() };
}
