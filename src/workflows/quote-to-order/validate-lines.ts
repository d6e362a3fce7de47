/**
 * Input checks that need the catalogue: unknown or inactive SKUs, fractional quantities where
 * the unit of measure forbids them, duplicate lines. These are the caller's mistakes, answered
 * with 422 naming each field, and nothing is written.
 */
import {
  CrossdockError,
  fractionalUoms,
  type OrderLine,
  type OrderSubmission,
  type Product,
} from '../../domain/index.js';

export interface FieldProblem {
  field: string;
  message: string;
}

export function validateLines(submission: OrderSubmission, products: Map<string, Product>): OrderLine[] {
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  const lines: OrderLine[] = [];
  submission.lines.forEach((input, i) => {
    const field = `lines[${i}]`;
    const product = products.get(input.sku);
    const earlier = seen.get(input.sku);
    if (earlier !== undefined) {
      problems.push({
        field: `${field}.sku`,
        message: `duplicate of lines[${earlier}]: combine the quantities in one line`,
      });
      return;
    }
    seen.set(input.sku, i);
    if (!product) {
      problems.push({ field: `${field}.sku`, message: `unknown SKU ${input.sku}` });
      return;
    }
    if (!product.active) {
      problems.push({ field: `${field}.sku`, message: `SKU ${input.sku} is discontinued` });
      return;
    }
    if (!Number.isInteger(input.quantity) && !fractionalUoms.has(product.uom)) {
      problems.push({
        field: `${field}.quantity`,
        message: `${product.uom} is counted in whole units; got ${input.quantity}`,
      });
      return;
    }
    lines.push({
      lineNo: i + 1,
      sku: input.sku,
      quantity: input.quantity,
      uom: product.uom,
      unitPrice: input.unitPrice,
      agreedPrice: null,
      allocations: [],
      backorderedQuantity: 0,
      promiseDate: null,
    });
  });
  if (problems.length > 0) {
    throw CrossdockError.dataQuality(`${problems.length} invalid order line(s)`, {
      details: { fields: problems },
    });
  }
  return lines;
}
