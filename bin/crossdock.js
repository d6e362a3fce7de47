#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` via the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/app/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('crossdock: dist/ is missing; run `npm run build` (npm install does it) first.');
  process.exit(1);
}
await import(cli.href);
