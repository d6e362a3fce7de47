/**
 * JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) generated from the zod schemas.
 * Nothing here is written by hand: `crossdock` serves what zod says the model is.
 */
import { z } from 'zod';
import { CloudEvent } from './events.js';
import { OrderDecision, SalesOrder, TimelineEntry } from './order.js';
import { Hold } from './order-state.js';
import {
  Customer,
  InventoryPosition,
  Invoice,
  OrderSubmission,
  PriceAgreement,
  Product,
  Quote,
  ReturnAuthorization,
  Shipment,
  ShipmentEvent,
} from './schemas.js';

/** The schemas published as named components. */
export const publishedSchemas = {
  Customer,
  Product,
  PriceAgreement,
  InventoryPosition,
  Quote,
  OrderSubmission,
  SalesOrder,
  OrderDecision,
  Hold,
  TimelineEntry,
  Shipment,
  ShipmentEvent,
  Invoice,
  ReturnAuthorization,
  CloudEvent,
} as const;

export type SchemaName = keyof typeof publishedSchemas;

/** One JSON Schema per canonical schema, with `$ref`s into `#/components/schemas/…`. */
export function componentSchemas(io: 'input' | 'output' = 'output'): Record<string, unknown> {
  // Every schema given an id with `.meta({ id })` lives in zod's global registry; exporting the
  // registry turns each into its own component, so references stay `#/components/schemas/X`.
  for (const schema of Object.values(publishedSchemas)) {
    if (!z.globalRegistry.has(schema)) throw new Error('published schema without .meta({ id })');
  }
  const out = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
    schemas[id] = rest;
  }
  return schemas;
}
