// The HTTP listener `ringwire serve --metrics` runs (serveMetrics): GET /metrics
// answered from a MetricsRegistry. It shares the process, and on one thread the
// event loop, with the data port, so it is built so that no scraper, however
// many or however silent, can hurt that port:
//   - at most maxConnections connections at once (default 16); one more is closed
//     as it is accepted (net.Server.maxConnections), so the listener holds at most
//     METRICS_DESCRIPTORS descriptors, which the descriptor budget counts
//     (descriptor-limit.ts, through cli.ts);
//   - a connection has headersTimeout (default 5 s) from its first byte or its
//     previous response to send a request's headers, and keep-alive idles at most
//     idleTimeout (default 5 s): a silent connection holds its descriptor seconds,
//     not Node's default ~90 s (60 s of headersTimeout checked every 30 s);
//   - one render answers every scrape within reuseFor ms (default 100) of it, so a
//     storm of scrapes costs one render per interval, not one per request; what a
//     scraper sees is at most reuseFor old (Prometheus scrapes every few seconds).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { configError } from '../core/errors.ts';
import { checkOptions, duration, whole } from '../net/option-rules.ts';
import { answer, type MetricsRegistry } from './registry.ts';

export interface MetricsListenerOptions {
  /** Connections at once; more are closed as they arrive. Default 16. */
  maxConnections?: number;
  /** ms a connection has to send a request's headers (from its first byte, or its previous response). Default 5000. */
  headersTimeout?: number;
  /** ms a keep-alive connection may idle between requests. Default 5000. */
  idleTimeout?: number;
  /** ms one render answers every scrape after it. Default 100; 0 renders every scrape. */
  reuseFor?: number;
}

export const DEFAULT_METRICS_CONNECTIONS = 16;
/** The descriptors the listener holds at most with the default cap: its listening socket and its connections. */
export const METRICS_DESCRIPTORS = 1 + DEFAULT_METRICS_CONNECTIONS;

const RULES = {
  maxConnections: whole(1, 1024),
  headersTimeout: duration(100, 60_000),
  idleTimeout: duration(100, 60_000),
  reuseFor: duration(0, 60_000),
} as const;

/**
 * Serve GET /metrics (and / with a pointer to it) on host:port. Resolves once it
 * listens; rejects with the listen error (EADDRINUSE…). Close it with server.close().
 */
export async function serveMetrics(registry: MetricsRegistry, port: number, host = '127.0.0.1', options: MetricsListenerOptions = {}): Promise<http.Server> {
  checkOptions(options, RULES, 'metrics.');
  const { maxConnections = DEFAULT_METRICS_CONNECTIONS, headersTimeout = 5000, idleTimeout = 5000, reuseFor = 100 } = options;
  let last: { body: string; at: number } | undefined;
  const text = () => {
    const now = performance.now();
    if (!last || now - last.at >= reuseFor) last = { body: registry.text(), at: now };
    return last.body;
  };
  const server = http.createServer({
    headersTimeout,
    requestTimeout: 2 * headersTimeout, // a GET has no body: headers are the request
    keepAliveTimeout: idleTimeout,
    // How often Node checks headersTimeout: its default, 30 s, would let a silent connection stay 30 s past it.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, headersTimeout / 4)),
  }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return answer(req, res, text);
    res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end('ringwire: metrics are at /metrics\n');
  });
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Where a metrics server listens, as host:port (IPv6 in brackets). */
export function metricsAddress(server: http.Server): string {
  const a = server.address() as AddressInfo | null;
  if (!a) throw configError('the metrics server is not listening');
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
