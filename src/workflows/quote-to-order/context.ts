/**
 * What the quote-to-order steps share while one order is decided.
 * Steps read the submission and what earlier steps found, and add their own findings.
 */
import type {
  Customer,
  HoldReason,
  InventoryPosition,
  OrderLine,
  OrderSubmission,
  Product,
} from '../../domain/index.js';
import type { Clock, CrmPort, ErpPort, InventoryDelta, Store, TimelineInput } from '../../ports/index.js';
import type { CreditExposureCache } from './credit-cache.js';
import type { QuoteToOrderPolicies, SegmentPolicy } from './policy.js';

/** Ports and configuration the workflow runs with (types only: no side-effect code here). */
export interface QuoteToOrderDeps {
  store: Store;
  erp: ErpPort;
  crm: CrmPort;
  clock: Clock;
  policies: QuoteToOrderPolicies;
  credit: CreditExposureCache;
  /** CloudEvents source of the events this workflow emits. */
  eventSource?: string;
  /**
   * Told when an ERP step that finishes behind the caller (after a 202, or resumed) fails; the
   * order stays `validating` and is retried with backoff. For the log: without it such failures
   * are silent.
   */
  onBackgroundError?: (orderId: string, err: unknown) => void;
}

export interface HoldDraft {
  reason: HoldReason;
  detail: string;
  data: Record<string, unknown>;
}

export interface LineAvailability {
  lineNo: number;
  sku: string;
  quantity: number;
  byWarehouse: { warehouseId: string; available: number }[];
  totalAvailable: number;
}

export interface FulfillmentPlan {
  strategy: 'single_warehouse' | 'split' | 'backorder' | 'none';
  rationale: string;
  lines: OrderLine[];
  reservations: InventoryDelta[];
}

export interface RunContext {
  orderId: string;
  correlationId: string;
  submission: OrderSubmission;
  now: Date;
  /** YYYY-MM-DD of `now`: the date agreements and certificates are judged on. */
  today: string;
  products: Map<string, Product>;
  lines: OrderLine[];
  total: number;
  customer: Customer | null;
  /** Customers created or linked by this run; committed with the decision. */
  customerWrites: Customer[];
  policy: SegmentPolicy;
  inventory: InventoryPosition[];
  availability: LineAvailability[];
  /** What availability concluded the policy asks for. */
  inventoryDecision: 'single' | 'split' | 'backorder' | 'none';
  holds: HoldDraft[];
  /**
   * Hold reasons their owners approved (released) for this order: the steps that would raise
   * them let the order through on that count. Empty for a first decision.
   */
  approved: ReadonlySet<HoldReason>;
  rejection: { code: string; detail: string } | null;
  plan: FulfillmentPlan | null;
  timeline: TimelineInput[];
}
