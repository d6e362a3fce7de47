/** `crossdock prune`: in-process against a real hub's store (SQLite on its writer thread). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTestHub } from '../../test/support/hub.js';
import type { Clock } from '../ports/index.js';
import type { Hub } from './hub.js';
import { registerPruneCommand } from './prune-cli.js';

const bootstrap = 'prune-cli-bootstrap-secret-0123456789';
const day = 86_400_000;
let hub: Hub;
let dir: string;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ hub, dir, dispose } = await openTestHub('prune-cli', bootstrap));
});
afterAll(async () => dispose());

/** Runs `crossdock prune …` with the hub's store, its config's policy, and a clock `ahead` of now. */
async function prune(
  ahead: number,
  args: string[],
  tty = false,
): Promise<{ out: string[]; err: string; code: number }> {
  const out: string[] = [];
  let err = '';
  let code = 0;
  const clock: Clock = { now: () => new Date(Date.now() + ahead) };
  const program = new Command().exitOverride();
  registerPruneCommand(program, {
    open: async () => ({ store: hub.store, clock }),
    settings: async () => ({ retention: hub.config.retention, dataDir: hub.config.dataDir }),
    out: (l) => void out.push(l),
    err: {
      write: (s) => {
        err += s;
        return true;
      },
      isTTY: tty,
    },
    setExitCode: (c) => {
      code = c;
    },
  });
  await program.parseAsync(['node', 'crossdock', 'prune', ...args]);
  return { out, err, code };
}

const audit = (action: string, at: string) => ({
  actor: 'ops@example.com',
  action,
  target: 't',
  detail: {},
  at,
});

test('prune --dry-run counts per table and changes nothing; the real run archives audit entries and closed exceptions to 0600 files, then deletes them', async () => {
  const now = new Date().toISOString();
  await hub.store.commit({
    audit: [audit('old.1', '2024-01-15T00:00:00.000Z'), audit('old.2', '2024-02-15T00:00:00.000Z')],
    idempotency: {
      scope: 'client',
      key: 'k-1',
      requestHash: 'h',
      responseStatus: 201,
      responseBody: {},
      createdAt: now,
    },
    exceptions: [
      {
        id: 'x-closed',
        kind: 'data_quality',
        owner: 'integration',
        source: 'test',
        subscription: null,
        deliveryId: null,
        eventId: null,
        orderId: null,
        error: { message: 'refused' },
        attempts: 1,
      },
    ],
  });
  await hub.store.actOnException('x-closed', 'resolve', audit('exception.resolve', now), 'fixed by hand');
  const auditBefore = (await hub.store.listAudit(1000)).length;

  // 100 days on: the idempotency record (24 h) and the resolved exception (90 days) are due, and
  // the two 2024 audit entries (365 days); the resolve's own audit entry is not.
  const dry = await prune(100 * day, ['--dry-run', '--json']);
  expect(dry.code).toBe(0);
  const planned = JSON.parse(dry.out[0]!) as {
    dryRun: boolean;
    counts: Record<string, number>;
    total: number;
  };
  expect(planned.dryRun).toBe(true);
  expect(planned.counts).toMatchObject({ idempotency: 1, exceptions: 1, audit_log: 2, inbound_messages: 0 });
  expect(await hub.store.getException('x-closed')).not.toBeNull();
  expect((await hub.store.listAudit(1000)).length).toBe(auditBefore);
  expect(dry.err).toBe('');

  const real = await prune(100 * day, []);
  expect(real.code).toBe(0);
  expect(real.out.find((l) => l.startsWith('audit_log\t'))).toMatch(
    /^audit_log\t2\taudit entries older than /,
  );
  expect(real.out.find((l) => l.startsWith('exceptions\t'))).toMatch(/^exceptions\t1\t/);
  expect(real.out.at(-1)).toMatch(
    new RegExp(
      `^pruned ${planned.total} rows; archived 3 to ${join(dir, 'archive').replace(/[/.]/g, '\\$&')}`,
    ),
  );
  expect(await hub.store.getException('x-closed')).toBeNull();
  expect((await hub.store.listAudit(1000)).map((a) => a.action)).not.toContain('old.1');

  const archive = join(dir, 'archive');
  expect(statSync(archive).mode & 0o777).toBe(0o700);
  const files = readdirSync(archive).sort();
  expect(files).toEqual([
    'audit_log-2024-01.jsonl',
    'audit_log-2024-02.jsonl',
    `exceptions-${now.slice(0, 7)}.jsonl`,
  ]);
  for (const f of files) expect(statSync(join(archive, f)).mode & 0o777).toBe(0o600);
  const jan = readFileSync(join(archive, 'audit_log-2024-01.jsonl'), 'utf8').trim().split('\n');
  expect(jan.map((l) => JSON.parse(l))).toEqual([
    expect.objectContaining({ action: 'old.1', actor: 'ops@example.com', at: '2024-01-15T00:00:00.000Z' }),
  ]);
  const closed = JSON.parse(readFileSync(join(archive, `exceptions-${now.slice(0, 7)}.jsonl`), 'utf8'));
  expect(closed).toMatchObject({
    id: 'x-closed',
    status: 'resolved',
    note: 'fixed by hand',
    kind: 'data_quality',
  });

  // Nothing left to prune: a second run prints zeros.
  const again = await prune(100 * day, ['--json']);
  expect(JSON.parse(again.out[0]!)).toMatchObject({ dryRun: false, total: 0 });
});

test('On a terminal a real prune shows a progress bar per table on stderr; stdout keeps the result', async () => {
  await hub.store.commit({
    audit: Array.from({ length: 5 }, (_, i) => audit(`tty.${i}`, '2023-06-01T00:00:00.000Z')),
  });
  const r = await prune(0, ['--batch-size', '2', '--json'], true);
  expect(r.code).toBe(0);
  expect(r.err).toContain('audit_log [');
  expect(r.err).toContain('5/5');
  expect(JSON.parse(r.out[0]!)).toMatchObject({ counts: { audit_log: 5 }, archived: { audit_log: 5 } });
});

test('prune refuses a bad --batch-size with exit code 2', async () => {
  const r = await prune(0, ['--batch-size', '0']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('--batch-size must be a whole number >= 1');
});
