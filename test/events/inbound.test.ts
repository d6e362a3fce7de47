/** Inbound webhooks against the real stores: signature, parsing, durable dedupe, exceptions. */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../src/domain/index.js';
import { makeEvent, receiveWebhook, signatureHeader, signWebhook } from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import { backends, ManualClock, openTestStore, type TestStore } from './support.js';

describe.each(backends)('inbound webhooks on %s', (backend) => {
  let ts: TestStore;
  let store: Store;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock();
    ts = await openTestStore(backend, clock);
    store = ts.store;
    await store.putSubscriptions([{ name: 'all', types: [], ordering: 'strict', active: true }]);
  });
  afterEach(async () => ts.dispose());

  const secrets = { wms: 'wms-secret' };
  const body = () =>
    JSON.stringify(
      makeEvent(
        'shipment.milestone.v1',
        'ord-9',
        {
          orderId: 'ord-9',
          customerId: 'c1',
          state: 'shipped',
          customerStatus: 'Shipped',
          shipmentId: 's1',
          milestone: 'shipped',
        },
        { id: 'wms-evt-1', now: clock.now(), source: 'urn:wms' },
      ),
    );
  const sign = (raw: string) => ({
    [signatureHeader]: signWebhook('wms-secret', raw, Math.floor(clock.now().getTime() / 1000)),
  });

  test('A signed event is committed once; its redelivery is recognised as a duplicate', async () => {
    const raw = body();
    const first = await receiveWebhook(
      { store, clock, secrets },
      { source: 'wms', rawBody: raw, headers: sign(raw) },
    );
    expect(first.status).toBe('accepted');
    const again = await receiveWebhook(
      { store, clock, secrets },
      { source: 'wms', rawBody: raw, headers: sign(raw) },
    );
    expect(again.status).toBe('duplicate');
    const events = await store.readEvents({ limit: 10 });
    expect(events.map((e) => e.event.id)).toEqual(['wms-evt-1']);
    expect((await store.subscriptionStats())[0]?.pending).toBe(1);
  });

  test('A bad signature, an unknown type and a schema failure are typed data quality errors with an exception record', async () => {
    const raw = body();
    const cases: [string, Record<string, string>][] = [
      [raw, { [signatureHeader]: signWebhook('wrong', raw, Math.floor(clock.now().getTime() / 1000)) }],
      [raw.replace('shipment.milestone.v1', 'shipment.teleported.v1'), {}],
      [raw.replace('"milestone":"shipped"', '"milestone":"beamed"'), {}],
      ['not json', {}],
    ];
    for (const [b, h] of cases) {
      const headers = Object.keys(h).length > 0 ? h : sign(b);
      const err = await receiveWebhook(
        { store, clock, secrets },
        { source: 'wms', rawBody: b, headers },
      ).catch((e) => e);
      expect(err).toBeInstanceOf(CrossdockError);
      expect((err as CrossdockError).kind).toBe('data_quality');
    }
    const ex = await store.listExceptions({ status: 'open' });
    expect(ex).toHaveLength(4);
    expect(ex.every((e) => e.kind === 'data_quality' && e.source === 'inbound:wms')).toBe(true);
    expect(
      ex.map((e) => e.lastError.details && (e.lastError.details as { reason: string }).reason).sort(),
    ).toEqual(['invalid_json', 'schema', 'schema', 'signature_mismatch'].sort());
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
  });
});
