// The metrics of one ringwire server, for whoever scrapes them: the CLI's
// --metrics listener (serveMetrics, metrics-listener.ts), your own HTTP server (handler), or
// prom-client's registry (promClientMetrics). Every scrape reads the server's
// stats() right then, which for a worker server reads each worker's stats block
// in shared memory with Atomics: no message to any worker, so a scrape costs
// microseconds and works while a worker is busy or stalled. Nothing is cached
// or kept between scrapes; the registry holds only its source.

import http from 'node:http';
import type { ServerStats } from '../net/server-stats.ts';
import { CONTENT_TYPE, renderText, type MetricFamily } from './exposition.ts';
import { processFamilies } from './process-metrics.ts';
import { serverFamilies } from './server-metrics.ts';

/** Anything with ringwire's stats(): a server, a worker server, an endpoint. */
export interface MetricsSource {
  stats(): ServerStats;
}

export interface MetricsOptions {
  /**
   * Include the process's metrics (process_* and nodejs_*, named as prom-client's
   * default metrics are). Default true; false when prom-client's
   * collectDefaultMetrics() already puts them in the same scrape.
   */
  process?: boolean;
}

/** What prom-client's Registry.registerMetric() takes: a name and a get() with its values. */
export interface PromClientMetric {
  name: string;
  help: string;
  type: MetricFamily['type'];
  get(): { name: string; help: string; type: MetricFamily['type']; aggregator: 'sum'; values: { labels: Record<string, string>; value: number }[] };
  reset(): void;
}

/** Answer GET and HEAD with the exposition `text()` gives (read only for those), anything else with 405. */
export function answer(req: http.IncomingMessage, res: http.ServerResponse, text: () => string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET or HEAD only\n');
    return;
  }
  const body = text();
  res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export class MetricsRegistry {
  readonly contentType = CONTENT_TYPE;
  private readonly source: MetricsSource;
  private readonly withProcess: boolean;

  constructor(source: MetricsSource, options: MetricsOptions = {}) {
    this.source = source;
    this.withProcess = options.process ?? true;
  }

  /** The metric families, read now. */
  families(): MetricFamily[] {
    const own = serverFamilies(this.source.stats());
    return this.withProcess ? [...own, ...processFamilies()] : own;
  }

  /** The exposition (Prometheus text format 0.0.4), read now. */
  text(): string {
    return renderText(this.families());
  }

  /**
   * A node:http request listener (Express and friends take it too) that answers
   * GET and HEAD with the exposition, whatever the path: mount it where you like.
   */
  readonly handler = (req: http.IncomingMessage, res: http.ServerResponse): void => answer(req, res, () => this.text());

  /**
   * The same families as prom-client metrics, without depending on prom-client:
   * `for (const m of registry.promClientMetrics()) register.registerMetric(m)`.
   * A scrape calls every metric's get() in one turn of the event loop: the first
   * reads the stats, the others use that reading (one consistent view, one
   * read instead of one per family), and the next turn reads anew.
   */
  promClientMetrics(): PromClientMetric[] {
    let reading: Map<string, MetricFamily> | undefined;
    const read = () => {
      if (!reading) {
        reading = new Map(this.families().map(f => [f.name, f]));
        setImmediate(() => (reading = undefined));
      }
      return reading;
    };
    return [...read().values()].map(({ name, help, type }) => ({
      name, help, type,
      get: () => {
        const values = (read().get(name)?.samples ?? []).map(s => ({ labels: s.labels ?? {}, value: s.value }));
        return { name, help, type, aggregator: 'sum' as const, values };
      },
      reset: () => {}, // these counters belong to the server: they are never reset
    }));
  }
}
