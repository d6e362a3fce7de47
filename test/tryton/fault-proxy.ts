/**
 * A tiny TCP proxy on 127.0.0.1 for failure tests against a real trytond.
 *
 * Why TCP rather than HTTP: the failures worth proving happen below HTTP: a socket dropped after
 * the request reached Tryton but before its answer reached us (the write happened, the caller
 * cannot know), or a connection that is accepted and then never answered.
 */
import { createServer, type Server, Socket } from 'node:net';

/** How the proxy treats the next request whose bytes contain `marker`. */
export type ProxyFault =
  | { mode: 'pass' }
  /** Forward, wait for Tryton's answer, then drop the client socket without relaying it. */
  | { mode: 'drop-after-response'; marker: string; times: number }
  /** Forward, then drop the client socket at once (Tryton is still working on it). */
  | { mode: 'drop-after-send'; marker: string; times: number }
  /** Accept connections and never answer. */
  | { mode: 'stall' };

/** A running proxy. */
export interface FaultProxy {
  url: string;
  port: number;
  fault: ProxyFault;
  /** Requests dropped so far. */
  dropped: number;
  close(): Promise<void>;
}

/** Starts a proxy in front of `upstreamPort`. */
export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    url: '',
    port: 0,
    fault: { mode: 'pass' },
    dropped: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (proxy.fault.mode === 'stall') return;
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    upstream.connect(upstreamPort, '127.0.0.1');
    let dropOnResponse = false;
    client.on('data', (chunk: Buffer) => {
      const fault = proxy.fault;
      if (
        (fault.mode === 'drop-after-response' || fault.mode === 'drop-after-send') &&
        fault.times > 0 &&
        chunk.includes(fault.marker)
      ) {
        fault.times -= 1;
        proxy.dropped += 1;
        upstream.write(chunk);
        if (fault.mode === 'drop-after-send') {
          // Let Tryton finish on its own: keep the upstream socket, lose the client one.
          upstream.removeAllListeners('data');
          upstream.on('data', () => upstream.destroy());
          client.destroy();
        } else {
          dropOnResponse = true;
        }
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropOnResponse) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('close', () => {
      if (!dropOnResponse) upstream.end();
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  proxy.port = typeof address === 'object' && address ? address.port : 0;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  return proxy;
}
