/**
 * Configuration: a file (`crossdock.config.ts|.js|.json|.yaml`) overlaid by environment
 * variables, validated by zod so a typo fails the start with the field named, not at 3 a.m.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { subscriptionNames } from '../events/index.js';
import { defaultEstateSettings } from '../simulators/index.js';
import { defaultPolicies, QuoteToOrderPolicies } from '../workflows/index.js';

const estateDefaults = defaultEstateSettings;
/** A duration of the estate, ms (at most a day). */
const estateMs = z.number().int().min(0).max(86_400_000);
/** A share of the estate's orders or shipments, 0..1. */
const estateRate = z.number().min(0).max(1);

/**
 * The estate driver (`src/simulators/estate.ts`): the in-process simulated WMS, TMS and ERP
 * move orders on their own clock (pick, pack, ship, carry, deliver, invoice, pay; short picks,
 * carrier delays and receipts at the rates below). Unknown keys are refused, so a typo cannot
 * leave a rate at its default unnoticed.
 */
export const EstateConfig = z
  .object({
    /**
     * On or off. Unset: on under `crossdock start` / `npm start`, off in hubs embedded by tests
     * and benchmarks (`createHub` without `estateByDefault`). Never runs with a real ERP (Tryton)
     * or a remote simulator server (`simulators.url`); see `estateEnabled`.
     */
    enabled: z.boolean().optional(),
    /** Seed of the estate's dice; default `simulators.seed`. */
    seed: z.number().int().optional(),
    /** How often due steps are performed, ms. */
    tickMs: z.number().int().min(10).max(60_000).default(estateDefaults.tickMs),
    /** Due steps performed per tick at most (the rest wait for the next tick). */
    maxStepsPerTick: z.number().int().min(1).max(100_000).default(estateDefaults.maxStepsPerTick),
    /** Each dwell is scaled by a random factor in [1 − jitter, 1 + jitter]. */
    jitter: z.number().min(0).max(1).default(estateDefaults.jitter),
    /** How long each step waits after the one before, ms. */
    dwell: z
      .object({
        pick: estateMs.default(estateDefaults.dwell.pick),
        pack: estateMs.default(estateDefaults.dwell.pack),
        ship: estateMs.default(estateDefaults.dwell.ship),
        inTransit: estateMs.default(estateDefaults.dwell.inTransit),
        outForDelivery: estateMs.default(estateDefaults.dwell.outForDelivery),
        deliver: estateMs.default(estateDefaults.dwell.deliver),
        exceptionRecovery: estateMs.default(estateDefaults.dwell.exceptionRecovery),
        returnTransit: estateMs.default(estateDefaults.dwell.returnTransit),
      })
      .strict()
      .prefault({}),
    /** Share of warehouse orders short-picked (half of one line goes missing at the pick). */
    shortPickRate: estateRate.default(estateDefaults.shortPickRate),
    /** Share of shipments delayed by a carrier exception (with a reason), then recovered. */
    carrierExceptionRate: estateRate.default(estateDefaults.carrierExceptionRate),
    /** Share of delivered shipments of which a unit is returned (a CRM return case). */
    returnRate: estateRate.default(estateDefaults.returnRate),
    /** Delivered → return due, ms. */
    returnAfterMs: estateMs.default(estateDefaults.returnAfterMs),
    /** An order's last shipment → its ERP invoice, ms. */
    invoiceAfterMs: estateMs.default(estateDefaults.invoiceAfterMs),
    /** Invoice → payment recorded, ms. */
    paymentAfterMs: estateMs.default(estateDefaults.paymentAfterMs),
    /** How often inbound receipts arrive, ms. */
    receiptEveryMs: z.number().int().min(1).max(86_400_000).default(estateDefaults.receiptEveryMs),
  })
  .strict();
export type EstateConfig = z.infer<typeof EstateConfig>;

/** Every built-in subscription's name: the keys `events.subscriptions` accepts. */
const knownSubscriptions = Object.values(subscriptionNames) as [
  (typeof subscriptionNames)[keyof typeof subscriptionNames],
  ...(typeof subscriptionNames)[keyof typeof subscriptionNames][],
];

export const TrytonErpConfig = z.object({
  kind: z.literal('tryton'),
  url: z.string().url(),
  database: z.string().min(1),
  username: z.string().min(1),
  password: z.string().min(1),
  /** Warehouse id in canonical data that Tryton's storage location stands for. */
  warehouseId: z.string().default('WH-TRYTON'),
  concurrency: z.number().int().positive().default(4),
  timeoutMs: z.number().int().positive().default(10_000),
  /** Tryton's code of that warehouse (`stock.location` of type warehouse). */
  warehouseCode: z.string().min(1).default('WH'),
  /** Sales orders created or confirmed at once (Tryton on SQLite serialises writes: keep it low). */
  maxConcurrentOrders: z.number().int().positive().default(2),
  /** Party codes of the customers whose orders the hub decides against Tryton (hub id = code). */
  customers: z.array(z.string().min(1)).default([]),
  /** Quote-to-order policy segment given to those customers. */
  segment: z.string().min(1).default('standard'),
  /** Days the contract prices read from Tryton stay valid in the hub before the next load. */
  priceValidityDays: z.number().int().positive().default(30),
});
/** The `erp` block of a hub talking to Tryton (see docs/connectors/tryton.md). */
export type TrytonErpConfig = z.infer<typeof TrytonErpConfig>;

export const ErpConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('simulator') }),
  TrytonErpConfig,
]);

export const CrossdockConfig = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  dataDir: z.string().default('./.crossdock'),
  /** `postgres://…` selects PostgreSQL; unset means embedded SQLite in dataDir. */
  databaseUrl: z.string().optional(),
  /** SQLite durability: FULL survives power loss (default; group commit pays for it). */
  sqliteSynchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
  /**
   * Where SQLite commits run: on a writer thread (the event loop never waits on fsync) or
   * inline on the event loop; see docs/PERFORMANCE.md for what each measured.
   */
  sqliteWriter: z.enum(['worker', 'inline']).default('worker'),
  natsUrl: z.string().optional(),
  /** How long master data (products, customers, prices) read from the store is trusted. */
  masterDataCacheMs: z.number().int().min(0).default(10_000),
  /**
   * The first admin key's secret (first start only). At least 32 characters: it is hashed with
   * a fast hash like generated keys, so it must carry comparable entropy.
   */
  bootstrapKey: z.string().min(32, 'must be at least 32 characters (use a generated secret)').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Requests per second per API client unless its key says otherwise. */
  defaultRateLimit: z.number().int().positive().default(10_000),
  bodyLimitBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  simulators: z
    .object({
      seed: z.number().int().default(42),
      enabled: z.boolean().default(true),
      /** Scales every simulated ERP credit limit; benchmarks raise it so load is not all credit holds. */
      creditLimitMultiplier: z.number().positive().default(1),
      /**
       * Base URL of a simulator server (`scripts/sim-server.ts`, `startSimulatorServer`): the
       * hub then talks to that estate over HTTP instead of building one in process, loads its
       * master data from the server's data set, and serves no `/sim/*` routes. Crash tests use
       * it so the simulated effects outlive a killed hub. `seed` and `creditLimitMultiplier`
       * are the server's then.
       */
      url: z.string().url().optional(),
      /** Per-call timeout to the simulator server, in ms. */
      timeoutMs: z.number().int().positive().default(10_000),
      /**
       * Mount the simulators' `/sim/*` routes (inspection needs `ops:read`, faults and writes
       * `ops:write`). Only ever mounted when the simulators are the configured systems.
       */
      routes: z.boolean().default(true),
      /** Records each simulator keeps (orders, activities, notifications, milestones); older ones are evicted. */
      maxRecords: z.number().int().min(100).default(50_000),
      /** The estate driver: simulated systems that move orders on their own clock. */
      estate: EstateConfig.prefault({}),
    })
    .prefault({}),
  erp: ErpConfig.default({ kind: 'simulator' }),
  policies: QuoteToOrderPolicies.default(defaultPolicies),
  webhooks: z
    .object({
      /** HMAC-SHA256 secrets per inbound source; a source without one has its webhooks refused. */
      secrets: z
        .record(z.string(), z.union([z.string().min(16), z.array(z.string().min(16)).min(1)]))
        .default({}),
      /** Refused webhooks written to the exception queue per second per source; past it 429, nothing written. */
      refusalsPerSecond: z.number().positive().default(1),
      /** Burst of refused-webhook writes per source. */
      refusalBurst: z.number().int().positive().default(10),
    })
    .prefault({}),
  events: z
    .object({
      /** Claim lease per delivery batch; a killed process's claims are taken over after it. */
      leaseMs: z.number().int().min(1000).default(20_000),
      /** One delivery call may take this long before it counts as a transient timeout. */
      handlerTimeoutMs: z.number().int().min(100).default(8_000),
      /**
       * How long a subscription with less than a full batch due waits before it claims again.
       * Each claim is a write (it takes leases); longer waits mean fewer, larger claims and more
       * delivery lag. See docs/PERFORMANCE.md.
       */
      pollMs: z.number().int().min(1).max(10_000).default(20),
      /**
       * Delivery policy per subscription, over the shipped defaults (src/events/delivery-policy.ts:
       * 40 attempts, backoff from 250 ms doubling to a 10 min cap, 24 h maximum age, a breaker
       * opening after 5 consecutive failures for 10 s). Keys are subscription names (the hub
       * passes them through `subscriptionPolicies`); an unknown name is refused with the name, so
       * a typo cannot leave a destination on the defaults unnoticed (`subscriptionNames`).
       */
      subscriptions: z
        .partialRecord(
          z.enum(knownSubscriptions),
          z
            .object({
              /** Attempts in total (first included) before a retryable failure is parked. */
              maxAttempts: z.number().int().min(1).max(1_000).optional(),
              /** A delivery older than this is parked instead of retried, hours (at most 30 days). */
              maxAgeHours: z
                .number()
                .positive()
                .max(30 * 24)
                .optional(),
              /** Delay ceiling of the first retry, ms. */
              backoffBaseMs: z.number().int().min(1).max(3_600_000).optional(),
              /** Longest wait between two attempts of one delivery, ms (at most 24 h). */
              backoffCapMs: z.number().int().min(100).max(86_400_000).optional(),
              breaker: z
                .object({
                  /** Consecutive health failures (timeouts, 5xx, refused) that open the breaker. */
                  failureThreshold: z.number().int().min(1).max(10_000).optional(),
                  /** How long it stays open before one probe, ms. */
                  openMs: z.number().int().min(100).max(3_600_000).optional(),
                })
                .strict()
                .optional(),
            })
            .strict()
            .refine(
              (s) =>
                s.backoffBaseMs === undefined ||
                s.backoffCapMs === undefined ||
                s.backoffCapMs >= s.backoffBaseMs,
              { message: 'must be at least backoffBaseMs', path: ['backoffCapMs'] },
            ),
          {
            // zod reports extra keys of a record over an enum as `unrecognized_keys` (its issue
            // type for records does not list that code, hence the cast).
            error: (issue) => {
              const i = issue as { code: string; keys?: PropertyKey[] };
              if (i.code !== 'unrecognized_keys') return undefined;
              const names = (i.keys ?? []).map((k) => `"${String(k)}"`).join(', ');
              return `unknown subscription ${names} (known: ${knownSubscriptions.join(', ')})`;
            },
          },
        )
        .default({}),
    })
    .default({ leaseMs: 20_000, handlerTimeoutMs: 8_000, pollMs: 20, subscriptions: {} }),
  /** HTTP server limits against slow and anonymous clients. */
  server: z
    .object({
      /** A whole request (headers and body) must arrive within this, ms (Node `requestTimeout`). */
      requestTimeoutMs: z.number().int().min(1000).default(30_000),
      /** The headers must arrive within this, ms (Node `headersTimeout`). */
      headersTimeoutMs: z.number().int().min(1000).default(10_000),
      /** An idle keep-alive connection is closed after this, ms. */
      keepAliveTimeoutMs: z.number().int().min(1000).default(5_000),
      /** A connection with no traffic at all is closed after this, ms (socket timeout). */
      connectionTimeoutMs: z.number().int().min(1000).default(60_000),
      /** Requests per second per client address without a valid key (missing, unknown or revoked). */
      unauthenticatedRateLimit: z.number().int().positive().default(20),
    })
    .prefault({}),
  /**
   * Retention: how long the hub keeps what it no longer needs. Audit entries and exceptions are
   * archived (JSON lines under `<dataDir>/archive`) before they are pruned.
   */
  retention: z
    .object({
      /** Idempotency keys expire after this (the IETF draft's expiry; a repeat after it is new). */
      idempotencyHours: z.number().positive().default(24),
      /** Inbound message dedupe records (webhooks, feed entries) are kept this long. */
      inboundDays: z.number().positive().default(30),
      /** Outbox events delivered to every subscription are kept this long (replay window). */
      deliveredEventsDays: z.number().positive().default(7),
      /** Resolved and discarded exceptions are kept this long (archived first). */
      closedExceptionsDays: z.number().positive().default(90),
      /** Audit entries are kept this long (archived first). */
      auditDays: z.number().positive().default(365),
      /** Archive audit entries and closed exceptions before pruning them. */
      archive: z.boolean().default(true),
      /** How often the retention job runs in a worker process, minutes; 0 = never (use `crossdock prune`). */
      intervalMinutes: z.number().min(0).default(60),
    })
    .prefault({}),
  /** The analytics export (`<dataDir>/analytics-export.jsonl`, rotated to `analytics-export.<UTC time>.jsonl` beside it). */
  analytics: z
    .object({
      /** Start a new file past this size, bytes. */
      rotateBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024 * 1024),
      /** Start a new file past this age, hours. */
      rotateHours: z.number().positive().default(24),
      /** Event ids remembered for dedupe (a redelivery after a crash is always among the last ones). */
      dedupeWindow: z.number().int().min(1000).default(200_000),
      /** Least time between two synced group writes, ms: one fdatasync per interval under load. */
      syncIntervalMs: z.number().int().min(0).max(10_000).default(50),
    })
    .prefault({}),
  /** Event dispatch in this process (off for API-only processes in a cluster). */
  workers: z.boolean().default(true),
  demoTraffic: z.number().min(0).default(0),
});
export type CrossdockConfig = z.infer<typeof CrossdockConfig>;
export type CrossdockConfigInput = z.input<typeof CrossdockConfig>;

const defaultFiles = [
  'crossdock.config.ts',
  'crossdock.config.js',
  'crossdock.config.json',
  'crossdock.config.yaml',
  'crossdock.config.yml',
];

/** Read a config file by extension; `.ts` goes through tsx so it needs no build step. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new Error(`config file not found: ${file}`);
  if (path.endsWith('.json')) return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (path.endsWith('.yaml') || path.endsWith('.yml'))
    return (parseYaml(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  const mod: Record<string, unknown> = path.endsWith('.ts')
    ? ((await (await import('tsx/esm/api')).tsImport(pathToFileURL(path).href, import.meta.url)) as Record<
        string,
        unknown
      >)
    : ((await import(pathToFileURL(path).href)) as Record<string, unknown>);
  const value = (mod.config ?? mod.default ?? mod) as Record<string, unknown>;
  return value;
}

/** Environment variables win over the file. */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.CROSSDOCK_DATABASE_URL) out.databaseUrl = env.CROSSDOCK_DATABASE_URL;
  if (env.CROSSDOCK_NATS_URL) out.natsUrl = env.CROSSDOCK_NATS_URL;
  if (env.CROSSDOCK_BOOTSTRAP_KEY) out.bootstrapKey = env.CROSSDOCK_BOOTSTRAP_KEY;
  if (env.CROSSDOCK_LOG_LEVEL) out.logLevel = env.CROSSDOCK_LOG_LEVEL;
  if (env.CROSSDOCK_DATA_DIR) out.dataDir = env.CROSSDOCK_DATA_DIR;
  if (env.CROSSDOCK_SQLITE_SYNCHRONOUS) out.sqliteSynchronous = env.CROSSDOCK_SQLITE_SYNCHRONOUS;
  return out;
}

/** Load and validate: file (given or found in cwd), then env, then CLI flags. */
export async function loadConfig(
  options: { file?: string; overrides?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
): Promise<CrossdockConfig> {
  const file = options.file ?? defaultFiles.find((f) => existsSync(f));
  const fromFile = file ? await readConfigFile(file) : {};
  const merged = { ...fromFile, ...envOverrides(options.env ?? process.env), ...(options.overrides ?? {}) };
  const parsed = CrossdockConfig.safeParse(merged);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration${file ? ` in ${file}` : ''}: ${fields}`);
  }
  return parsed.data;
}

/**
 * Whether the estate driver runs for `config`: `simulators.estate.enabled` when set, else
 * `byDefault` (true under `crossdock start`, false for embedded hubs: tests, benchmarks). Only
 * where the in-process simulators are the estate: never with a real ERP that runs its own
 * warehouse (Tryton: the simulated WMS and TMS get no releases, the ERP is not the simulator) nor
 * with a remote simulator server (`simulators.url`: that process owns the simulated systems).
 */
export function estateEnabled(config: CrossdockConfig, byDefault: boolean): boolean {
  const sims = config.simulators;
  if (!sims.enabled || sims.url !== undefined || config.erp.kind !== 'simulator') return false;
  return sims.estate.enabled ?? byDefault;
}

/** The store a configuration names: one place, so the hub and every CLI command open the same. */
export function storeOptions(config: CrossdockConfig): {
  url?: string;
  dataDir: string;
  synchronous: 'FULL' | 'NORMAL';
  writer: 'worker' | 'inline';
} {
  return {
    ...(config.databaseUrl ? { url: config.databaseUrl } : {}),
    dataDir: config.dataDir,
    synchronous: config.sqliteSynchronous,
    writer: config.sqliteWriter,
  };
}
