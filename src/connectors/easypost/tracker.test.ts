/**
 * The EasyPost mapping against every published response in ../shared/fixtures/external/carriers/
 * easypost (read as they are, never edited; see SOURCES.md there), and against tracker updates
 * built from them: each scan status to its canonical event, the stable scan ids across re-sends,
 * and malformed payloads refused naming the field.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CrossdockError } from '../../domain/index.js';
import { signEasyPost, verifyEasyPostSignature } from './signature.js';
import { type EasyPostPayload, parseEasyPostPayload } from './tracker.js';

const fixtures = join(import.meta.dirname, '../../../../shared/fixtures/external/carriers/easypost');
const read = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, name), 'utf8'));

/** What each published response holds; a new file in the folder must be added here. */
const expected: Record<string, (p: EasyPostPayload) => void> = {
  'trackers-create.json': (p) => {
    expect(p).toMatchObject({ object: 'Tracker', eventId: null });
    expect(p.trackers).toHaveLength(1);
    expect(p.trackers[0]).toMatchObject({
      trackerId: 'trk_9135862729734d96ad2f9ed0f0565a27',
      trackingNumber: 'EZ1000000001',
      carrier: 'USPS',
      status: 'pre_transit',
      easypostShipmentId: null,
      scans: [],
      skipped: 2,
    });
  },
  'trackers-retrieve.json': (p) => {
    // Same tracker as the create response, with "" where that one has null.
    expect(p.trackers.map((t) => [t.trackingNumber, t.status, t.scans.length, t.skipped])).toEqual([
      ['EZ1000000001', 'pre_transit', 0, 2],
    ]);
  },
  'trackers-list.json': (p) => {
    expect(p.object).toBe('TrackerList');
    expect(p.trackers.map((t) => [t.trackerId, t.trackingNumber, t.carrier])).toEqual([
      ['trk_9135862729734d96ad2f9ed0f0565a27', 'EZ1000000001', 'USPS'],
    ]);
  },
  'shipments-buy.json': (p) => {
    expect(p.object).toBe('Shipment');
    expect(p.trackers).toEqual([
      expect.objectContaining({
        trackerId: 'trk_bebe7357cc7e4ebc9248bdd7191084af',
        trackingNumber: '9434600208303109842228',
        carrier: 'USPS',
        status: 'unknown',
        easypostShipmentId: 'shp_40b6f049f00348b18de3804a26f7fd62',
        scans: [],
        skipped: 0,
      }),
    ]);
  },
  'events-retrieve.json': (p) => {
    // tracker.created without its result: nothing to track.
    expect(p).toMatchObject({
      object: 'Event',
      eventId: 'evt_ad2365c22d1511f0b5364ffbb3e7a1f1',
      description: 'tracker.created',
      trackers: [],
      ignored: 'no_result',
    });
  },
  'events-list.json': (p) => {
    expect(p).toMatchObject({ object: 'EventList', trackers: [], ignored: 'no_result' });
  },
  'webhooks-create.json': (p) => {
    expect(p).toMatchObject({ object: 'Webhook', trackers: [], ignored: 'not_a_tracker' });
  },
  'webhooks-list.json': (p) => {
    expect(p).toMatchObject({ trackers: [], ignored: 'not_a_tracker' });
  },
};

/** A `tracker.updated` event around the retrieved tracker, with these scans appended. */
function trackerUpdated(
  scans: { status: string; status_detail?: string; datetime: string; message?: string; city?: string }[],
  status = scans.at(-1)?.status ?? 'pre_transit',
): Record<string, unknown> {
  const tracker = read('trackers-retrieve.json') as Record<string, unknown>;
  const details = [...(tracker['tracking_details'] as Record<string, unknown>[])];
  for (const s of scans) {
    details.push({
      object: 'TrackingDetail',
      message: s.message ?? s.status,
      description: '',
      status: s.status,
      status_detail: s.status_detail ?? 'status_update',
      datetime: s.datetime,
      source: 'USPS',
      carrier_code: '',
      tracking_location: {
        object: 'TrackingLocation',
        city: s.city ?? null,
        state: 'SC',
        country: null,
        zip: '29401',
      },
      est_delivery_date: null,
    });
  }
  return {
    object: 'Event',
    id: 'evt_update_1',
    description: 'tracker.updated',
    mode: 'test',
    result: { ...tracker, status, tracking_details: details, updated_at: '2025-05-12T15:00:00Z' },
  };
}

describe('EasyPost tracker mapping', () => {
  test('every published EasyPost response in the fixtures folder is read (and each is listed here)', () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
    for (const f of files) expected[f]!(parseEasyPostPayload(read(f)));
  });

  test('a tracker.updated event maps each scan to its canonical event, with location, words and reason', () => {
    const p = parseEasyPostPayload(
      trackerUpdated([
        {
          status: 'in_transit',
          status_detail: 'arrived_at_facility',
          datetime: '2025-04-11T08:00:00Z',
          city: 'MEMPHIS',
        },
        { status: 'out_for_delivery', datetime: '2025-04-12T07:10:00Z', city: 'CHARLESTON' },
        {
          status: 'failure',
          status_detail: 'address_not_found',
          datetime: '2025-04-12T15:40:00Z',
          message: 'Addressee unknown',
        },
        { status: 'available_for_pickup', datetime: '2025-04-13T09:00:00Z' },
        { status: 'return_to_sender', datetime: '2025-04-20T09:00:00Z' },
        { status: 'delivered', datetime: '2025-04-25T12:00:00Z', message: 'Delivered, Front Door' },
      ]),
    );
    expect(p.eventId).toBe('evt_update_1');
    const [t] = p.trackers;
    expect(t!.skipped).toBe(2); // the two pre_transit scans of the fixture
    expect(t!.scans.map((s) => [s.type, s.reason ?? null])).toEqual([
      ['in_transit', null],
      ['out_for_delivery', null],
      ['exception', 'address_not_found'],
      ['exception', 'available_for_pickup'],
      ['exception', 'return_to_sender'],
      ['delivered', null],
    ]);
    expect(t!.scans[0]).toMatchObject({
      id: 'trk_9135862729734d96ad2f9ed0f0565a27:2025-04-11T08:00:00Z:in_transit:arrived_at_facility',
      at: '2025-04-11T08:00:00Z',
      location: 'MEMPHIS, SC 29401',
      native: { status: 'in_transit', statusDetail: 'arrived_at_facility' },
    });
    expect(t!.scans[2]!.detail).toBe('Addressee unknown');
    expect(t!.scans.at(-1)!.detail).toBe('Delivered, Front Door');
  });

  test('scan ids are the same in every later update, so a re-sent history is recognised', () => {
    const first = parseEasyPostPayload(
      trackerUpdated([{ status: 'in_transit', datetime: '2025-04-11T08:00:00Z' }]),
    );
    const later = parseEasyPostPayload(
      trackerUpdated([
        { status: 'in_transit', datetime: '2025-04-11T08:00:00Z' },
        { status: 'delivered', datetime: '2025-04-12T08:00:00Z' },
      ]),
    );
    expect(later.trackers[0]!.scans[0]!.id).toBe(first.trackers[0]!.scans[0]!.id);
    expect(later.trackers[0]!.scans).toHaveLength(2);
  });

  test("a tracker whose status no scan states yields that status as a scan at the tracker's update time", () => {
    const p = parseEasyPostPayload(trackerUpdated([], 'delivered'));
    expect(p.trackers[0]!.scans).toEqual([
      expect.objectContaining({ type: 'delivered', at: '2025-05-12T15:00:00Z' }),
    ]);
  });

  test('malformed tracker payloads are refused as data_quality naming the field', () => {
    const cases: [unknown, string][] = [
      [
        { ...trackerUpdated([]), result: { ...(trackerUpdated([])['result'] as object), tracking_code: '' } },
        'result.tracking_code',
      ],
      [
        trackerUpdated([{ status: 'in_transit', datetime: 'yesterday' }]),
        'result.tracking_details.2.datetime',
      ],
      [{ ...(read('trackers-retrieve.json') as object), carrier: 42 }, 'carrier'],
      [{ trackers: [{ object: 'Tracker' }] }, 'trackers.0.id'],
      ['a string', '(root)'],
      [[1, 2], '(root)'],
    ];
    for (const [payload, field] of cases) {
      let err: unknown;
      try {
        parseEasyPostPayload(payload);
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(CrossdockError);
      expect((err as CrossdockError).kind).toBe('data_quality');
      expect((err as CrossdockError).details).toMatchObject({ reason: 'malformed_carrier_payload', field });
    }
  });
});

describe('EasyPost webhook signature', () => {
  const body = JSON.stringify(trackerUpdated([{ status: 'in_transit', datetime: '2025-04-11T08:00:00Z' }]));

  test('the hmac-sha256-hex header of the exact body verifies; any change, another secret or no header does not', () => {
    const header = signEasyPost('s3cret-ﬁ-rotating', body);
    expect(header).toMatch(/^hmac-sha256-hex=[0-9a-f]{64}$/);
    // NFKD: the ligature in the secret is normalised before signing, as EasyPost's clients do.
    expect(signEasyPost('s3cret-fi-rotating', body)).toBe(header);
    expect(verifyEasyPostSignature('s3cret-ﬁ-rotating', body, header)).toEqual({ ok: true });
    expect(verifyEasyPostSignature(['old-secret', 's3cret-ﬁ-rotating'], Buffer.from(body), header)).toEqual({
      ok: true,
    });
    expect(verifyEasyPostSignature('s3cret-ﬁ-rotating', `${body} `, header)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyEasyPostSignature('other', body, header)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyEasyPostSignature('s3cret', body, undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyEasyPostSignature('s3cret', body, 'sha256=abc')).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyEasyPostSignature([], body, header)).toEqual({ ok: false, reason: 'no_secret' });
  });
});
