/**
 * Credit exposure from the ERP, cached per customer for a short time.
 *
 * Why: credit is owned by the ERP, but asking it on every order couples intake speed to the
 * ERP's (Tryton answers in tens of milliseconds; NetSuite in hundreds). The hub asks once per
 * TTL and adds the totals of orders it accepted since, so a burst from one customer cannot
 * slip past the limit between two refreshes.
 */
import type { Clock, CreditExposure, ErpPort } from '../../ports/index.js';

interface Entry {
  exposure: CreditExposure;
  fetchedAt: number;
  /** Totals the hub committed since the fetch, not yet seen by the ERP's figure. */
  addedSince: number;
}

export class CreditExposureCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly erp: ErpPort,
    private readonly clock: Clock,
    private readonly ttlMs = 30_000,
  ) {}

  /** Exposure including orders this hub accepted since the last ERP read. */
  async get(erpCustomerId: string): Promise<CreditExposure & { source: 'erp' | 'cache' }> {
    const now = this.clock.now().getTime();
    const hit = this.entries.get(erpCustomerId);
    if (hit && now - hit.fetchedAt < this.ttlMs) {
      return { ...hit.exposure, exposure: hit.exposure.exposure + hit.addedSince, source: 'cache' };
    }
    const exposure = await this.erp.getCreditExposure(erpCustomerId);
    this.entries.set(erpCustomerId, { exposure, fetchedAt: now, addedSince: 0 });
    return { ...exposure, source: 'erp' };
  }

  /** Count an accepted order against the cached exposure until the next refresh. */
  add(erpCustomerId: string, amount: number): void {
    const hit = this.entries.get(erpCustomerId);
    if (hit) hit.addedSince += amount;
  }

  invalidate(erpCustomerId: string): void {
    this.entries.delete(erpCustomerId);
  }
}
