import { describe, expect, test } from 'vitest';
import { runChaos } from './harness.js';

describe('a hub killed with SIGKILL under load and restarted', () => {
  test('Three SIGKILL and restart cycles under 12 concurrent submitters lose no accepted order, create no second ERP order and send no notification twice.', async () => {
    const report = await runChaos({
      cycles: 3,
      submitters: 12,
      minLoadMs: 400,
      maxLoadMs: 2000,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(`${JSON.stringify({ ...report, findings: report.findings.slice(0, 20) })}\n`);
    expect(report.kills).toBe(3);
    expect(report.orders).toBeGreaterThan(50);
    expect(report.findings).toEqual([]);
    expect(report.lost).toBe(0);
    expect(report.duplicateErpOrders).toBe(0);
    expect(report.duplicateNotifications).toBe(0);
  }, 180_000);
});
