import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { signWebhook, verifyWebhookSignature } from './webhook-signature.js';

const now = new Date('2025-03-03T10:00:00Z');
const t = Math.floor(now.getTime() / 1000);
const body = '{"id":"e1"}';

describe('webhook signatures', () => {
  test('A body signed with the shared secret verifies', () => {
    expect(verifyWebhookSignature('s3cret', body, signWebhook('s3cret', body, t), { now })).toEqual({
      ok: true,
    });
  });

  test('A body changed by one byte, a wrong secret or a missing header is refused', () => {
    const header = signWebhook('s3cret', body, t);
    expect(verifyWebhookSignature('s3cret', `${body} `, header, { now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature('other', body, header, { now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('s3cret', body, undefined, { now })).toEqual({
      ok: false,
      reason: 'missing',
    });
    expect(verifyWebhookSignature('s3cret', body, 'garbage', { now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  test('A signature older than the tolerance is refused as a replay', () => {
    const header = signWebhook('s3cret', body, t - 301);
    expect(verifyWebhookSignature('s3cret', body, header, { now })).toEqual({ ok: false, reason: 'expired' });
  });

  test('Any of several secrets verifies, so secrets can be rotated', () => {
    expect(verifyWebhookSignature(['new', 'old'], body, signWebhook('old', body, t), { now }).ok).toBe(true);
  });

  test('The GitHub-style sha256= header over the raw body is accepted too', () => {
    const header = `sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`;
    expect(verifyWebhookSignature('k', body, header, { now }).ok).toBe(true);
  });
});
