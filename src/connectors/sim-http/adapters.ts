/**
 * Port adapters over a remote simulator server: each method is one `POST /sim-api/…` call.
 * Idempotency lives in the simulators (by the keys the hub passes), so a retried call after a
 * timeout finds the first effect, exactly as with the in-process simulators.
 */
import type { InventoryPosition } from '../../domain/index.js';
import type {
  CreditExposure,
  CrmAccount,
  CrmActivity,
  CrmOrderStatusUpdate,
  CrmPort,
  CustomerNotification,
  ErpCancelInput,
  ErpCancelResult,
  ErpChangePage,
  ErpCustomer,
  ErpCustomerInput,
  ErpCustomerPrice,
  ErpOrderInput,
  ErpOrderRef,
  ErpOrderStatus,
  ErpPort,
  ErpProduct,
  ErpStock,
  NotificationPort,
  TmsBookingInput,
  TmsMilestonePage,
  TmsPort,
  WmsCancelInput,
  WmsCancelResult,
  WmsMilestonePage,
  WmsPort,
  WmsReleaseInput,
} from '../../ports/index.js';
import type { SimHttpClient } from './client.js';

/** `ErpPort` against the remote ERP simulator. */
export class SimHttpErp implements ErpPort {
  constructor(
    private readonly client: SimHttpClient,
    readonly system = 'erp-sim',
  ) {}
  private call<T>(operation: string, ...args: unknown[]): Promise<T> {
    return this.client.call<T>('erp', this.system, operation, args);
  }
  findCustomerByExternalId(externalId: string): Promise<ErpCustomer | null> {
    return this.call('findCustomerByExternalId', externalId);
  }
  cancelSalesOrder(input: ErpCancelInput): Promise<ErpCancelResult> {
    return this.call('cancelSalesOrder', input);
  }
  createCustomer(input: ErpCustomerInput): Promise<ErpCustomer> {
    return this.call('createCustomer', input);
  }
  updateCustomer(
    erpId: string,
    patch: Partial<Omit<ErpCustomerInput, 'externalId'>>,
    expectedVersion?: string,
  ): Promise<ErpCustomer> {
    return this.call('updateCustomer', erpId, patch, expectedVersion);
  }
  getCreditExposure(erpCustomerId: string): Promise<CreditExposure> {
    return this.call('getCreditExposure', erpCustomerId);
  }
  getProducts(skus?: string[]): Promise<ErpProduct[]> {
    return this.call('getProducts', skus);
  }
  getCustomerPrices(erpCustomerId: string, skus: string[]): Promise<ErpCustomerPrice[]> {
    return this.call('getCustomerPrices', erpCustomerId, skus);
  }
  getStock(skus: string[]): Promise<ErpStock[]> {
    return this.call('getStock', skus);
  }
  createSalesOrder(input: ErpOrderInput): Promise<ErpOrderRef> {
    return this.call('createSalesOrder', input);
  }
  confirmSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    return this.call('confirmSalesOrder', erpOrderId);
  }
  getSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    return this.call('getSalesOrder', erpOrderId);
  }
  changesSince(since: string | null, limit?: number): Promise<ErpChangePage> {
    return this.call('changesSince', since, limit);
  }
}

/** `CrmPort` against the remote CRM simulator. */
export class SimHttpCrm implements CrmPort {
  constructor(
    private readonly client: SimHttpClient,
    readonly system = 'crm-sim',
  ) {}
  getAccount(crmId: string): Promise<CrmAccount | null> {
    return this.client.call('crm', this.system, 'getAccount', [crmId]);
  }
  upsertOrderStatus(update: CrmOrderStatusUpdate): Promise<{ crmRecordId: string; applied: boolean }> {
    return this.client.call('crm', this.system, 'upsertOrderStatus', [update]);
  }
  addActivity(activity: CrmActivity): Promise<{ crmRecordId: string; duplicate: boolean }> {
    return this.client.call('crm', this.system, 'addActivity', [activity]);
  }
}

/** `WmsPort` against the remote WMS simulator. */
export class SimHttpWms implements WmsPort {
  constructor(
    private readonly client: SimHttpClient,
    readonly system = 'wms-sim',
  ) {}
  getInventory(skus?: string[]): Promise<InventoryPosition[]> {
    return this.client.call('wms', this.system, 'getInventory', [skus]);
  }
  releaseOrder(input: WmsReleaseInput): Promise<{ wmsOrderId: string; duplicate: boolean }> {
    return this.client.call('wms', this.system, 'releaseOrder', [input]);
  }
  milestonesSince(since: string | null, limit?: number): Promise<WmsMilestonePage> {
    return this.client.call('wms', this.system, 'milestonesSince', [since, limit]);
  }
  cancelRelease(input: WmsCancelInput): Promise<WmsCancelResult> {
    return this.client.call('wms', this.system, 'cancelRelease', [input]);
  }
}

/** `TmsPort` against the remote TMS simulator. */
export class SimHttpTms implements TmsPort {
  constructor(
    private readonly client: SimHttpClient,
    readonly system = 'tms-sim',
  ) {}
  bookShipment(
    input: TmsBookingInput,
  ): Promise<{ carrier: string; trackingNumber: string; duplicate: boolean }> {
    return this.client.call('tms', this.system, 'bookShipment', [input]);
  }
  milestonesSince(since: string | null, limit?: number): Promise<TmsMilestonePage> {
    return this.client.call('tms', this.system, 'milestonesSince', [since, limit]);
  }
}

/** `NotificationPort` against the remote notification simulator. */
export class SimHttpNotifications implements NotificationPort {
  constructor(
    private readonly client: SimHttpClient,
    readonly system = 'notify-sim',
  ) {}
  send(notification: CustomerNotification): Promise<{ notificationId: string; duplicate: boolean }> {
    return this.client.call('notifications', this.system, 'send', [notification]);
  }
}
