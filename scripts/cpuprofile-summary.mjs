#!/usr/bin/env node
// Summarise a V8 .cpuprofile (node --cpu-prof): self time by function and by package/file,
// plus inclusive time for functions whose name matches --focus. Used to say where the time
// goes in docs/PERFORMANCE.md.
//   node scripts/cpuprofile-summary.mjs FILE.cpuprofile [--top 40] [--focus regex]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args[0];
if (!file) {
  console.error('usage: cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--focus REGEX]');
  process.exit(2);
}
const top = Number(args[args.indexOf('--top') + 1] || 40) || 40;
const focusIdx = args.indexOf('--focus');
const focus = focusIdx >= 0 ? new RegExp(args[focusIdx + 1]) : null;
// --window S: only the busiest S seconds of the profile (e.g. the benchmark's load phase)
const windowIdx = args.indexOf('--window');
const windowS = windowIdx >= 0 ? Number(args[windowIdx + 1]) : 0;
// --from S: the window starts S seconds into the profile instead of at the busiest point
const fromIdx = args.indexOf('--from');
const fromS = fromIdx >= 0 ? Number(args[fromIdx + 1]) : null;

const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// time per node from samples/timeDeltas
const selfUs = new Map();
let from = 0;
let to = prof.samples.length;
if (windowS > 0) {
  // per-sample start times, then the window of windowS seconds with the fewest idle samples
  const idleId = prof.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
  const at = [];
  let t = 0;
  for (const d of prof.timeDeltas) at.push((t += d));
  let best = -1;
  let lo = 0;
  let busy = 0;
  for (let hi = 0; hi < at.length; hi++) {
    if (prof.samples[hi] !== idleId) busy += prof.timeDeltas[hi];
    while (at[hi] - at[lo] > windowS * 1e6) {
      if (prof.samples[lo] !== idleId) busy -= prof.timeDeltas[lo];
      lo++;
    }
    if (fromS === null ? busy > best : at[lo] <= fromS * 1e6) [best, from, to] = [busy, lo, hi + 1];
  }
  console.log(`window ${windowS} s starting at ${(at[from] / 1e6).toFixed(1)} s of the profile`);
}
for (let i = from; i < to; i++) {
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(cf) {
  const url = cf.url || '';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.startsWith('node:')) return url;
  const s = url.match(/\/(src|dist)\/(.*)$/);
  if (s) return s[2];
  return url || '(native)';
}
const label = (n) => `${n.callFrame.functionName || '(anon)'} ${where(n.callFrame)}:${n.callFrame.lineNumber + 1}`;

const fnSelf = new Map();
const pkgSelf = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const k = label(n);
  fnSelf.set(k, (fnSelf.get(k) ?? 0) + us);
  const p = n.callFrame.url ? where(n.callFrame) : n.callFrame.functionName;
  pkgSelf.set(p, (pkgSelf.get(p) ?? 0) + us);
}
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5);
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
console.log('\n-- self time by file/package --');
for (const [k, v] of [...pkgSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), '%', k);
console.log('\n-- self time by function --');
for (const [k, v] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), '%', k);

if (focus) {
  // inclusive time: a sample counts once for every distinct matching frame on its stack
  const incl = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    let cur = id;
    while (cur !== undefined) {
      const n = byId.get(cur);
      const k = label(n);
      if (focus.test(k) && !seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + us);
      }
      cur = parent.get(cur);
    }
  }
  console.log(`\n-- inclusive time, functions matching ${focus} --`);
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), '%', k);
}
