import { describe, expect, test } from 'vitest';
import { CrossdockError, toCrossdockError } from './errors.js';

describe('CrossdockError.code', () => {
  test('an explicit code wins; else a string details.reason; else the kind', () => {
    expect(CrossdockError.conflict('x', { code: 'shipped', details: { reason: 'other' } }).code).toBe(
      'shipped',
    );
    expect(CrossdockError.dataQuality('x', { details: { reason: 'unknown_order' } }).code).toBe(
      'unknown_order',
    );
    expect(CrossdockError.dataQuality('x', { details: { reason: 42 } }).code).toBe('data_quality');
    expect(CrossdockError.transient('x').code).toBe('transient');
    expect(toCrossdockError(new Error('boom')).code).toBe('transient');
  });

  test('the code is part of the JSON summary kept on timelines and exceptions', () => {
    const json = CrossdockError.conflict('no', { code: 'invoiced', details: { erp: 'sim' } }).toJSON();
    expect(json).toMatchObject({ kind: 'conflict', code: 'invoiced', details: { erp: 'sim' } });
  });
});
