/** The dlq and replay CLI commands, run in-process against a real SQLite store. */
import { Command } from 'commander';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { CrossdockError } from '../../src/domain/index.js';
import { Dispatcher, registerDlqCommands, registerReplayCommand } from '../../src/events/index.js';
import { commitStep, makeOrder } from './fixtures.js';
import { ManualClock, openTestStore, type TestStore } from './support.js';

let ts: TestStore;
const clock = new ManualClock();
beforeEach(async () => {
  ts = await openTestStore('sqlite-memory', clock);
});
afterEach(async () => ts.dispose());

function program(out: string[], err: string[]): Command {
  const p = new Command().exitOverride();
  const deps = {
    open: async () => ({ store: ts.store, clock }),
    out: (l: string) => void out.push(l),
    err: { write: (s: string) => err.push(s) > 0, isTTY: false },
    defaultActor: 'tester',
    setExitCode: () => {},
  };
  registerDlqCommands(p, deps);
  registerReplayCommand(p, deps);
  return p;
}

test('The dlq commands list a parked delivery and retry it with the actor in the audit log, and replay --dry-run counts', async () => {
  const start = clock.now().toISOString();
  const d = new Dispatcher({ store: ts.store, clock }).register({
    name: 'sink',
    handler: async () => {
      throw CrossdockError.policyViolation('refused by partner');
    },
  });
  await d.init();
  await commitStep(ts.store, clock, makeOrder('ord-1', 'c1', 'SKU', 'WH', clock.now()), 0);
  await d.drainOnce();
  const out: string[] = [];
  const err: string[] = [];
  await program(out, err).parseAsync(['node', 'crossdock', 'dlq', 'list', '--json']);
  const rows = JSON.parse(out.pop()!) as { id: string; kind: string }[];
  expect(rows).toHaveLength(1);
  expect(rows[0]?.kind).toBe('policy_violation');
  await program(out, err).parseAsync([
    'node',
    'crossdock',
    'dlq',
    'retry',
    rows[0]!.id,
    '--note',
    'partner fixed',
  ]);
  expect(out.pop()).toBe(`${rows[0]!.id}\tretried`);
  expect((await ts.store.listAudit(5)).map((a) => `${a.actor}:${a.action}`)).toContain(
    'tester:exception.retry',
  );
  await program(out, err).parseAsync([
    'node',
    'crossdock',
    'replay',
    'sink',
    '--from',
    start,
    '--dry-run',
    '--json',
  ]);
  expect(JSON.parse(out.pop()!)).toMatchObject({ matched: 1, toSend: 1, enqueued: 0, dryRun: true });
});
