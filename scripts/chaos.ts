/**
 * `npm run chaos [-- --cycles N --submitters N --seed N --json]`: the crash test at length.
 * A hub child is SIGKILLed at random moments under load and restarted, N times (default 20),
 * then drained and audited (see test/chaos/harness.ts). Prints a summary; exits 1 on any lost
 * order, duplicate or other finding.
 */
import { parseArgs } from 'node:util';
import { runChaos } from '../test/chaos/harness.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '20' },
    submitters: { type: 'string', default: '12' },
    seed: { type: 'string' },
    'min-load-ms': { type: 'string', default: '300' },
    'max-load-ms': { type: 'string', default: '2500' },
    json: { type: 'boolean', default: false },
  },
});

const report = await runChaos({
  cycles: Number(values.cycles),
  submitters: Number(values.submitters),
  minLoadMs: Number(values['min-load-ms']),
  maxLoadMs: Number(values['max-load-ms']),
  ...(values.seed ? { seed: Number(values.seed) } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});

const summary = {
  cycles: report.cycles,
  kills: report.kills,
  orders: report.orders,
  answers: report.answers,
  retriesAfterKill: report.retries,
  hubStates: report.hubStates,
  erpOrders: report.erpOrders,
  notifications: report.notifications,
  suppressedNotificationRepeats: report.suppressedNotificationRepeats,
  lost: report.lost,
  duplicateErpOrders: report.duplicateErpOrders,
  duplicateNotifications: report.duplicateNotifications,
  stuck: report.stuck,
  otherFindings: report.findings.length - report.lost - report.duplicateErpOrders - report.duplicateNotifications - report.stuck,
  drainSeconds: Math.round(report.drainMs / 100) / 10,
  seconds: report.seconds,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify({ ...summary, findings: report.findings })}\n`);
} else {
  const rows = Object.entries(summary).map(([k, v]) => `  ${k.padEnd(24)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  process.stdout.write(`chaos summary\n${rows.join('\n')}\n`);
  for (const f of report.findings.slice(0, 50)) process.stdout.write(`  ! ${f.kind} ${f.orderId}: ${f.detail}\n`);
}
process.exitCode = report.findings.length === 0 ? 0 : 1;
