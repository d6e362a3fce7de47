/** Ad-hoc runner: `npx tsx bench/run-events.ts [sqlite|postgres]` prints every scenario's JSON. */
import { runEventsBench } from './events.js';
import { runReplayBench } from './replay.js';

const backend = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'postgres';
const which = process.argv[3] ?? 'all';
if (which === 'all' || which === 'inproc')
  console.log(JSON.stringify(await runEventsBench({ backend, count: 100_000 })));
if (which === 'all' || which === 'webhook')
  console.log(JSON.stringify(await runEventsBench({ backend, count: 30_000, mode: 'webhook' })));
if (which === 'all' || which === 'lag')
  console.log(
    JSON.stringify(
      await runEventsBench({ backend, count: 25_000, ratePerSecond: 5_000, eventsPerCommit: 10 }),
    ),
  );
if (which === 'all' || which === 'replay')
  console.log(JSON.stringify(await runReplayBench({ backend, count: 100_000 })));
