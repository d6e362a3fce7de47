/**
 * The retention run's archive: JSON lines appended and fsynced before the rows are deleted, a torn
 * last line ended before the next record, and a crash between archive and delete archiving twice
 * rather than losing. Real SQLite store on a file, real files.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createStore } from './index.js';
import { appendArchive, type RetentionPolicy, retentionCutoffs, runRetention } from './retention.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'crossdock-retention-'));
  dirs.push(d);
  return d;
}

const policy: RetentionPolicy = {
  idempotencyHours: 24,
  inboundDays: 30,
  deliveredEventsDays: 7,
  closedExceptionsDays: 90,
  auditDays: 365,
  archive: true,
};

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

test('Cutoffs count back from now by the policy: hours for idempotency keys, days for the rest', () => {
  const now = new Date('2026-06-30T12:00:00.000Z');
  const c = retentionCutoffs(policy, now);
  expect(c.idempotency.toISOString()).toBe('2026-06-29T12:00:00.000Z');
  expect(c.inbound_messages.toISOString()).toBe('2026-05-31T12:00:00.000Z');
  expect(c.outbox.toISOString()).toBe('2026-06-23T12:00:00.000Z');
  expect(c.exceptions.toISOString()).toBe('2026-04-01T12:00:00.000Z');
  expect(c.audit_log.toISOString()).toBe('2025-06-30T12:00:00.000Z');
});

test('An archive file whose last line was torn by a crash gets it ended, so the next record is a line of its own', async () => {
  const dir = join(tempDir(), 'archive');
  await appendArchive(dir, 'audit_log', [{ id: 1, at: '2025-01-02T00:00:00.000Z', action: 'a' }]);
  const file = join(dir, 'audit_log-2025-01.jsonl');
  writeFileSync(file, `${readFileSync(file, 'utf8')}{"id":2,"at":"2025-01-0`); // torn mid-record
  await appendArchive(dir, 'audit_log', [{ id: 3, at: '2025-01-09T00:00:00.000Z', action: 'c' }]);
  const got = lines(file);
  expect(got).toHaveLength(3);
  expect(JSON.parse(got[0]!)).toMatchObject({ id: 1 });
  expect(() => JSON.parse(got[1]!)).toThrow();
  expect(JSON.parse(got[2]!)).toMatchObject({ id: 3, action: 'c' });
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
});

test('A crash between archiving and deleting archives the rows again on the next run: twice at worst, never lost', async () => {
  const dataDir = tempDir();
  const store = await createStore({ dataDir });
  try {
    await store.commit({
      audit: [1, 2, 3].map((i) => ({
        actor: 'ops',
        action: `old.${i}`,
        target: 't',
        detail: { i },
        at: `2024-03-0${i}T00:00:00.000Z`,
      })),
    });
    const archiveDir = join(dataDir, 'archive');
    // The first run dies after its archive append, before the delete.
    await expect(
      store.prune({
        before: { audit_log: new Date('2025-01-01') },
        archive: async (table, rows) => {
          await appendArchive(archiveDir, table, rows);
          throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await store.listAudit(10)).toHaveLength(3);

    const run = await runRetention(store, policy, { dataDir, now: new Date('2026-01-01T00:00:00.000Z') });
    expect(run.counts.audit_log).toBe(3);
    expect(run.archived.audit_log).toBe(3);
    expect(await store.listAudit(10)).toEqual([]);
    const archived = lines(join(archiveDir, 'audit_log-2024-03.jsonl')).map((l) => JSON.parse(l));
    expect(archived.map((r) => r.action)).toEqual(['old.1', 'old.2', 'old.3', 'old.1', 'old.2', 'old.3']);
    expect(archived[0]).toMatchObject({
      actor: 'ops',
      target: 't',
      detail: { i: 1 },
      at: '2024-03-01T00:00:00.000Z',
    });
  } finally {
    await store.close();
  }
});

test('With archive off, audit entries and closed exceptions are pruned without archive files', async () => {
  const dataDir = tempDir();
  const store = await createStore({ dataDir });
  try {
    await store.commit({
      audit: [{ actor: 'ops', action: 'old', target: 't', detail: {}, at: '2024-03-01T00:00:00.000Z' }],
    });
    const run = await runRetention(
      store,
      { ...policy, archive: false },
      { dataDir, now: new Date('2026-01-01T00:00:00.000Z') },
    );
    expect(run.counts.audit_log).toBe(1);
    expect(run.archived.audit_log).toBe(0);
    expect(() => statSync(join(dataDir, 'archive'))).toThrow();
  } finally {
    await store.close();
  }
});
