/**
 * The load generator shared by the HTTP benchmarks: autocannon against one route, with a
 * progress line per second on stderr and the per-second series for the console sparkline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { DemoOrderGenerator } from '../app/demo-orders.js';
import { generateDemoData } from '../simulators/index.js';
import { progressLine } from './report.js';

/** The simulators' seed of the benchmarked hub: order bodies must name its customers and SKUs. */
export const benchSimulatorSeed = 42;

/**
 * Order bodies (JSON text) for the demo data of `benchSimulatorSeed`, all in policy: the same
 * sequence for every HTTP benchmark, so `bench orders` and `bench baseline` send the same orders.
 */
export function benchOrderBodies(): () => string {
  const data = generateDemoData({ seed: benchSimulatorSeed, clock: { now: () => new Date() } });
  const generator = new DemoOrderGenerator(data, { seed: 11, holdShare: 0 });
  return () => JSON.stringify(generator.next());
}

/**
 * Starts `node <args>` as the server under test and resolves once it prints
 * `listening on http://…` on stdout; `what` names it in errors.
 */
export async function spawnServer(
  args: string[],
  what: string,
  timeoutMs: number,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
  child.stdout!.resume();
  return { child, url };
}

/** One request: a POST of `body` (JSON text) with extra `headers`. */
export interface LoadRequest {
  headers: Record<string, string>;
  body: string;
}

export interface RunStats {
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  perSecond: number;
  seconds: number;
  perSecondSeries: number[];
}

/**
 * Closed loop with `connections` (or open loop when `overallRate` is set) for `duration` seconds;
 * `next()` makes each request, so every request has its own body and keys.
 */
export async function runLoad(
  target: string,
  path: string,
  next: () => LoadRequest,
  o: { connections: number; duration: number; overallRate?: number },
): Promise<RunStats> {
  const series: number[] = [];
  let thisSecond = 0;
  let done = 0;
  const started = Date.now();
  const ticker = setInterval(() => {
    series.push(thisSecond);
    thisSecond = 0;
    process.stderr.write(
      `\r${progressLine((Date.now() - started) / 1000, o.duration, done, series.at(-1) ?? 0)}`,
    );
  }, 1000);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target,
        connections: o.connections,
        duration: o.duration,
        ...(o.overallRate ? { overallRate: o.overallRate } : {}),
        requests: [
          {
            method: 'POST',
            path,
            setupRequest: (req) => {
              const r = next();
              return {
                ...req,
                headers: { 'content-type': 'application/json', ...r.headers },
                body: r.body,
              };
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', () => {
      thisSecond++;
      done++;
    });
  });
  clearInterval(ticker);
  process.stderr.write('\n');
  const seconds = result.duration;
  return {
    requests: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    perSecond: result['2xx'] / seconds,
    seconds,
    perSecondSeries: series,
  };
}
