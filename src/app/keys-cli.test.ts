/**
 * `crossdock keys`: in-process against a real hub (SQLite on its writer thread) and its HTTP API;
 * the deadline against a store held by another process's locks on PostgreSQL and SQLite.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openTestHub } from '../../test/support/hub.js';
import type { EventsCliContext } from '../events/cli.js';
import { hashSecret } from '../http/middleware/auth.js';
import type { Store } from '../ports/index.js';
import { createStore } from '../storage/index.js';
import type { Hub } from './hub.js';
import { parseScopes, registerKeyCommands } from './keys-cli.js';

const bootstrap = 'keys-cli-bootstrap-secret-0123456789';
let hub: Hub;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('keys-cli', bootstrap));
});
afterAll(async () => dispose());

async function keys(...args: string[]): Promise<{ out: string[]; err: string[]; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const program = new Command().exitOverride();
  registerKeyCommands(program, {
    open: async () => ({ store: hub.store }),
    out: (l) => void out.push(l),
    err: { write: (s) => err.push(s.trimEnd()) > 0, isTTY: false },
    defaultActor: 'ops@example.com',
    setExitCode: (c) => {
      code = c;
    },
  });
  await program.parseAsync(['node', 'crossdock', 'keys', ...args]);
  return { out, err, code };
}

const post = (secret: string) =>
  hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    payload: {},
  });

test('a key created with orders:read authenticates, is refused orders:write with 403, lists without its secret, and create and revoke are audited', async () => {
  const created = await keys('create', '--name', 'reporting', '--scopes', 'orders:read', '--json');
  expect(created.code).toBe(0);
  const key = JSON.parse(created.out[0]!) as { id: string; secret: string; scopes: string[] };
  expect(key.scopes).toEqual(['orders:read']);
  expect(key.secret).toMatch(/^cdk_/);
  expect((await hub.store.findApiKeyByHash(hashSecret(key.secret)))?.name).toBe('reporting');

  const res = await post(key.secret);
  expect(res.statusCode).toBe(403);
  expect(res.json().detail).toContain('orders:write');

  const listed = await keys('list', '--json');
  const rows = JSON.parse(listed.out[0]!) as Record<string, unknown>[];
  expect(rows.find((r) => r.id === key.id)).toMatchObject({ name: 'reporting', revokedAt: null });
  expect(listed.out[0]).not.toContain(key.secret);
  expect(listed.out[0]).not.toContain(hashSecret(key.secret));

  const again = await keys('create', '--name', 'reporting', '--scopes', 'orders:read');
  expect(again.code).toBe(1);
  expect(again.err[0]).toContain('an active key named "reporting" exists');

  expect((await keys('revoke', 'reporting')).out).toEqual([`${key.id}\trevoked`]);
  expect((await hub.store.findApiKeyByHash(hashSecret(key.secret)))?.revokedAt).not.toBeNull();
  const audit = (await hub.store.listAudit(10)).filter((a) => a.target === key.id);
  expect(audit.map((a) => `${a.actor}:${a.action}`).sort()).toEqual([
    'ops@example.com:api_key.create',
    'ops@example.com:api_key.revoke',
  ]);
});

test('a key revoked before its first use is refused with 401', async () => {
  const created = await keys('create', '--name', 'short-lived', '--scopes', 'orders:write', '--json');
  const key = JSON.parse(created.out[0]!) as { id: string; secret: string };
  await keys('revoke', key.id);
  expect((await post(key.secret)).statusCode).toBe(401);
});

test('unknown scopes, a bad rate limit and an unknown key are refused with a message naming them, writing nothing', async () => {
  const before = (await hub.store.listApiKeys()).length;
  const bad = await keys('create', '--name', 'x', '--scopes', 'orders:read,orders:delete');
  expect(bad.code).toBe(2);
  expect(bad.err[0]).toContain('unknown scope orders:delete');
  const rate = await keys('create', '--name', 'x', '--scopes', 'orders:read', '--rate-limit', '-3');
  expect(rate.code).toBe(2);
  expect(rate.err[0]).toContain('--rate-limit');
  const missing = await keys('revoke', 'nobody');
  expect(missing.code).toBe(1);
  expect(missing.err[0]).toContain('no active key with id or name "nobody"');
  expect((await hub.store.listApiKeys()).length).toBe(before);
  expect(parseScopes(' ,')).toEqual({ error: expect.stringContaining('at least one') });
});

test('--customer binds a portal:read key to the customer named by hub or CRM id: it reads only the portal, and list and audit show the binding', async () => {
  const customer = hub.sims!.picks.inPolicy.customer;
  const crmId = customer.externalIds['crm']!;
  const created = await keys(
    'create',
    '--name',
    'acme-portal',
    '--customer',
    crmId,
    '--scopes',
    'portal:read',
    '--json',
  );
  expect(created.code).toBe(0);
  const key = JSON.parse(created.out[0]!) as { id: string; secret: string; customerId: string };
  expect(key.customerId).toBe(customer.id);
  expect((await hub.store.findApiKeyByHash(hashSecret(key.secret)))?.customerId).toBe(customer.id);

  const get = (url: string) =>
    hub.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key.secret}` } });
  const portal = await get('/api/v1/portal/orders');
  expect(portal.statusCode).toBe(200);
  expect(portal.json()).toMatchObject({ items: expect.any(Array), next: null });
  const internal = await get('/api/v1/orders');
  expect(internal.statusCode).toBe(403);
  expect(internal.json().detail).toContain('orders:read');

  const listed = JSON.parse((await keys('list', '--json')).out[0]!) as Record<string, unknown>[];
  expect(listed.find((r) => r.id === key.id)).toMatchObject({ customerId: customer.id });
  expect((await keys('list')).out.find((l) => l.startsWith(`${key.id}\t`))).toContain(
    `customer ${customer.id}`,
  );
  const audit = (await hub.store.listAudit(20)).find(
    (a) => a.target === key.id && a.action === 'api_key.create',
  );
  expect(audit?.detail).toMatchObject({ customerId: customer.id, scopes: ['portal:read'] });
});

test('an unknown --customer, other scopes on a customer key, and portal:read without --customer are refused naming the option, writing nothing', async () => {
  const before = (await hub.store.listApiKeys()).length;
  const unknown = await keys(
    'create',
    '--name',
    'ghost',
    '--customer',
    'CUST-NOPE',
    '--scopes',
    'portal:read',
  );
  expect(unknown.code).toBe(2);
  expect(unknown.err[0]).toContain('--customer CUST-NOPE: no such customer');
  const customer = hub.sims!.picks.inPolicy.customer.id;
  const wide = await keys(
    'create',
    '--name',
    'wide',
    '--customer',
    customer,
    '--scopes',
    'portal:read,orders:read',
  );
  expect(wide.code).toBe(2);
  expect(wide.err[0]).toContain('may hold only portal:read, not orders:read');
  const unbound = await keys('create', '--name', 'unbound', '--scopes', 'portal:read');
  expect(unbound.code).toBe(2);
  expect(unbound.err[0]).toContain('needs --customer');
  const empty = await keys('create', '--name', 'empty', '--customer', ' ', '--scopes', 'portal:read');
  expect(empty.code).toBe(2);
  expect(empty.err[0]).toContain('--customer');
  expect((await hub.store.listApiKeys()).length).toBe(before);
});

/** Runs a keys command against the store `open` gives, recording output, exit code and exit calls. */
async function keysOn(
  open: () => Promise<EventsCliContext>,
  ...args: string[]
): Promise<{ out: string[]; err: string[]; code: number; exits: number[]; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  let code = 0;
  const program = new Command().exitOverride();
  registerKeyCommands(program, {
    open,
    out: (l) => void out.push(l),
    err: { write: (s) => err.push(s.trimEnd()) > 0, isTTY: false },
    defaultActor: 'ops@example.com',
    setExitCode: (c) => {
      code = c;
    },
    exit: (c) => void exits.push(c),
  });
  const started = Date.now();
  await program.parseAsync(['node', 'crossdock', 'keys', ...args]);
  return { out, err, code, exits, ms: Date.now() - started };
}

describe('a store held by another process', () => {
  const pgUrl = process.env['CROSSDOCK_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `cd_test_keys_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let store: Store;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    store = await createStore({ url: pgUrl, schema });
  });
  afterAll(async () => {
    await store?.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  test("On PostgreSQL, keys create whose commit waits on another transaction's lock gives up at --timeout, names what it waited for and that the key may exist, and ends the process", async () => {
    const locker = new pg.Client({ connectionString: pgUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${schema}.audit_log IN ACCESS EXCLUSIVE MODE`);
      const r = await keysOn(
        async () => ({ store }),
        'create',
        '--name',
        'locked-out',
        '--scopes',
        'orders:read',
        '--timeout',
        '1',
      );
      expect(r.ms).toBeLessThan(5_000);
      expect(r.code).toBe(1);
      expect(r.exits).toEqual([1]);
      expect(r.out).toEqual([]);
      expect(r.err.join('\n')).toContain(
        'gave up after 1 s waiting for the store while committing the change',
      );
      expect(r.err.join('\n')).toContain('look for "locked-out" in `crossdock keys list`');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // The commit that was waiting goes through once the lock is gone: the message said it might.
    await expect
      .poll(async () => (await store.listApiKeys()).some((k) => k.name === 'locked-out'))
      .toBe(true);
  });

  test('On PostgreSQL, a keys command whose store waits for the migration lock gives up at --timeout while opening, having written nothing', async () => {
    const locker = new pg.Client({ connectionString: pgUrl });
    await locker.connect();
    const opened: Promise<Store>[] = [];
    try {
      await locker.query('SELECT pg_advisory_lock($1)', [0x63726f73]);
      const r = await keysOn(
        async () => {
          const p = createStore({ url: pgUrl, schema });
          opened.push(p);
          return { store: await p };
        },
        'list',
        '--timeout',
        '1',
      );
      expect(r.ms).toBeLessThan(5_000);
      expect(r.code).toBe(1);
      expect(r.exits).toEqual([1]);
      expect(r.err.join('\n')).toContain(
        'while opening the store (connecting and applying pending migrations)',
      );
    } finally {
      await locker.query('SELECT pg_advisory_unlock($1)', [0x63726f73]);
      await locker.end();
      for (const p of opened) await (await p).close();
    }
  });

  test('On SQLite a write lock held by another process fails keys create with "store busy" within the busy timeout, before any deadline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-keys-'));
    const file = await createStore({ dataDir: dir });
    const holder = new Database(join(dir, 'crossdock.db'));
    try {
      holder.prepare('BEGIN IMMEDIATE').run();
      const started = Date.now();
      await expect(
        keysOn(
          async () => ({ store: file }),
          'create',
          '--name',
          'busy',
          '--scopes',
          'orders:read',
          '--timeout',
          '60',
        ),
      ).rejects.toThrow(/busy|locked/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      holder.prepare('ROLLBACK').run();
      holder.close();
      await file.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
