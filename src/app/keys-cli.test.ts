/** `crossdock keys`: in-process against a real hub (SQLite on its writer thread) and its HTTP API. */
import { Command } from 'commander';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTestHub } from '../../test/support/hub.js';
import { hashSecret } from '../http/middleware/auth.js';
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
