/**
 * Keys bound to a customer (src/http/middleware/auth.ts): what `createApiKey` accepts, and that a
 * bound principal holds `portal:read` only, whatever its record claims.
 */
import { describe, expect, test } from 'vitest';
import { createApiKey, hasScope, type Principal } from '../../src/http/middleware/index.js';

describe('keys bound to a customer', () => {
  test('createApiKey binds portal:read keys to a customer and refuses any other scope on them', () => {
    const { record } = createApiKey({ name: 'acme-portal', scopes: ['portal:read'], customerId: ' CUST-1 ' });
    expect(record).toMatchObject({ scopes: ['portal:read'], customerId: 'CUST-1' });
    expect(createApiKey({ name: 'crm', scopes: ['orders:read'] }).record).not.toHaveProperty('customerId');
    expect(() =>
      createApiKey({ name: 'x', scopes: ['portal:read', 'orders:read'], customerId: 'CUST-1' }),
    ).toThrow('may hold only portal:read (not orders:read)');
    expect(() => createApiKey({ name: 'x', scopes: ['admin'], customerId: 'CUST-1' })).toThrow('not admin');
    expect(() => createApiKey({ name: 'x', scopes: [], customerId: 'CUST-1' })).toThrow(
      'may hold only portal:read',
    );
    expect(() => createApiKey({ name: 'x', scopes: ['portal:read'], customerId: '  ' })).toThrow(
      'customerId must not be empty',
    );
  });

  test('a bound principal holds portal:read only; admin and unbound principals hold what they always did', () => {
    const bound: Principal = {
      keyId: 'k',
      name: 'p',
      scopes: ['portal:read', 'admin', 'orders:read'],
      rateLimit: 0,
      customerId: 'CUST-1',
    };
    expect(hasScope(bound, 'portal:read')).toBe(true);
    expect(hasScope(bound, 'orders:read')).toBe(false);
    expect(hasScope(bound, 'ops:write')).toBe(false);
    expect(hasScope({ ...bound, scopes: ['orders:read'] }, 'portal:read')).toBe(false);
    const admin: Principal = { keyId: 'a', name: 'a', scopes: ['admin'], rateLimit: 0 };
    expect(hasScope(admin, 'portal:read')).toBe(true);
    expect(hasScope(admin, 'orders:write')).toBe(true);
    expect(hasScope({ ...admin, scopes: ['orders:read'], customerId: null }, 'orders:read')).toBe(true);
  });
});
