/**
 * The simulated estate as its own process: `npx tsx scripts/sim-server.ts [--port 7070]
 * [--host 127.0.0.1] [--seed 42] [--credit-multiplier 1]`. Point a hub at it with
 * `simulators: { url: "http://127.0.0.1:7070" }` in its config; the `/sim/*` inspection and
 * fault routes are served here too, without API keys, which is why `--host` must be a loopback
 * address (127.0.0.0/8, ::1, localhost): any other is refused at start.
 */
import { parseArgs } from 'node:util';
import { startSimulatorServer } from '../src/simulators/port-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7070' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '42' },
    'credit-multiplier': { type: 'string', default: '1' },
  },
});

const server = await startSimulatorServer({
  // Refused unless loopback (startSimulatorServer checks): the server has no API keys.
  port: Number(values.port),
  host: values.host,
  seed: Number(values.seed),
  creditLimitMultiplier: Number(values['credit-multiplier']),
});
process.stdout.write(`crossdock simulators listening on ${server.url} (seed ${values.seed})\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
