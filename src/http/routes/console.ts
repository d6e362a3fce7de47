/**
 * `/`: the console's landing page. The operations console proper (orders, holds, exceptions,
 * SLAs) is a later piece of work; until then this page says what is running and where the API
 * and its documentation are, so `npm start` never answers a bare 404 at its own address.
 */
import type { FastifyInstance } from 'fastify';

const page = (version: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Crossdock</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2430}
code{background:#f1f3f6;padding:.1rem .3rem;border-radius:3px}h1{font-size:1.6rem}#ready{font-weight:600}</style></head>
<body><h1>Crossdock ${version}</h1>
<p>Integration backbone for product distributors. Store readiness: <span id="ready">checking…</span></p>
<ul>
<li><code>POST /api/v1/orders</code> — governed quote-to-order (Bearer API key, <code>orders:write</code>)</li>
<li><code>GET /api/v1/orders/{id}/timeline</code> — every step and event of an order</li>
<li><code>GET /openapi.json</code> — OpenAPI 3.1, generated from the canonical model</li>
<li><code>GET /metrics</code> — Prometheus (<code>ops:read</code>)</li>
<li><code>/sim/{crm,erp,wms,tms}</code> — the built-in simulators and their fault injection (<code>ops:read</code> to inspect, <code>ops:write</code> for faults; only for simulated systems)</li>
</ul>
<p>The operations console (orders, holds, exceptions, SLAs) is not built yet; the API above is what runs today.</p>
<script>fetch('/health/ready').then(r=>r.json()).then(j=>{document.getElementById('ready').textContent=j.status+' ('+j.store+')'}).catch(()=>{document.getElementById('ready').textContent='unreachable'})</script>
</body></html>`;

export function registerConsoleRoutes(app: FastifyInstance, version: string): void {
  const html = page(version);
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(html));
}
