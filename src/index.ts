/// <reference types="node" preserve="true" />
// The public API of ringwire: everything a user imports comes from here, but for
// serveInWorker, which a worker thread imports from 'ringwire/worker' (src/worker.ts).
import { createCore } from './core/create.ts';
import { RingwireServer, type ServerOptions } from './net/server.ts';
import { Endpoint, type EndpointOptions } from './net/endpoint.ts';
import { checkConnectOptions, CONNECT_RULES, type ConnectOptions, type RingwireClient } from './net/client.ts';
import { ENDPOINT_RULES } from './net/endpoint-config.ts';
import { checkKnown } from './net/option-rules.ts';
import { MetricsRegistry } from './metrics/registry.ts';
import type { StatsRenderer } from './net/server-stats.ts';

/** The Prometheus exposition, given to every server and endpoint built here (net/ does not import metrics/). */
const prometheusText: StatsRenderer = (source, options) => new MetricsRegistry(source, options).text();

export { createCore };
export { RingwireServer, DEFAULT_LISTENERS, type ServerOptions, type ListenOptions, type UpstreamOptions } from './net/server.ts';
export { portSharing } from './net/port-sharing.ts';
export { MAX_DURATION } from './net/option-rules.ts';
export { RingwireClient, type ConnectOptions, type ReconnectOptions, type ClientEvents } from './net/client.ts';
export {
  Endpoint, memoryBudget, DEFAULT_FRAME_TIMEOUT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_MIN_RATE, DEFAULT_MIN_RATE_WINDOW, DEFAULT_STALL_TIMEOUT,
  type EndpointOptions, type EndpointEvents, type MemoryBudget, type CoreFactory } from './net/endpoint.ts';
export { Connection, type ConnectionInfo } from './net/connection.ts';
export { DEFAULT_HANDSHAKE_TIMEOUT, type TlsClientOptions, type TlsInfo, type TlsServerOptions } from './net/tls-context.ts';
export type { WritePath } from './net/direct-write.ts';
export { createAddressTable } from './net/address-table.ts';
export type { StallInfo } from './net/heartbeat.ts';
export { descriptorBudget, descriptorLimit, slotsThatFit, type DescriptorBudget, type DescriptorLimit } from './net/descriptor-limit.ts';
export type { Handler } from './net/handler.ts';
export type { FrameReply } from './net/delivery-window.ts';
export type { LifecycleContext } from './net/lifecycle.ts';
export type { ProxyHeader, ProxyTlv, ProxyProtocol } from './net/proxy-header.ts';
export { Router, type RouterStats } from './net/router.ts';
export type { SendResult, PublishResult } from './net/switchboard.ts';
export type { AskContext, AskHandler, AskOptions } from './net/asks.ts';
export { Cluster, type ClusterOptions, type ClusterStats, type ClusterEvents } from './net/cluster.ts';
export type { ServerStats, ThreadStats, ThreadState } from './net/server-stats.ts';
export { parseFraming, resolveConfig, describeFraming, DEFAULTS, type Framing, type CoreOptions, type CoreConfig } from './core/config.ts';
export type { Core, CoreKind } from './core/core.ts';
export { sumStats, Stats, type StatsSnapshot } from './core/stats.ts';
export {
  createWorkerServer, WorkerServer, type WorkerServerOptions, type WorkerServerStats, type WorkerStats, type WorkerExitInfo,
} from './workers/worker-server.ts';
export { attachWorker, WorkerLink } from './workers/worker-link.ts';
export { canTransferSockets, type Balance } from './workers/protocol.ts';
export { canReusePort } from './net/port-sharing.ts';
export * from './core/errors.ts';
export { MetricsRegistry, type MetricsSource, type MetricsOptions, type PromClientMetric } from './metrics/registry.ts';
export { serveMetrics, DEFAULT_METRICS_CONNECTIONS, type MetricsListenerOptions } from './metrics/metrics-listener.ts';
export type { MetricFamily, MetricType, Sample } from './metrics/exposition.ts';

/** A framed TCP server. Call listen() to start it. */
export function createServer<Data = any>(options: ServerOptions<Data> = {}): RingwireServer<Data> {
  return new RingwireServer<Data>(options, createCore, prometheusText);
}

/** An endpoint without a listener: its sockets come from serve(socket) and connect(). Call start() first. */
export function createEndpoint<Data = any>(options: EndpointOptions<Data> = {}): Endpoint<Data> {
  return new Endpoint<Data>(options, createCore, prometheusText);
}

/**
 * A framed client on an endpoint of its own (one connection slot unless
 * maxConnections says otherwise), closed when the client ends. For many clients,
 * or clients beside a server, call connect() on one endpoint (or the server).
 */
export async function connect<Data = any>(options: Omit<EndpointOptions<Data>, 'signal' | 'tls'> & ConnectOptions<Data>): Promise<RingwireClient<Data>> {
  checkKnown(options, [...Object.keys(ENDPOINT_RULES).filter(k => k !== 'signal'), ...Object.keys(CONNECT_RULES)]);
  const { port, host, path, reconnect, maxQueuedWhileDown, connectTimeout, tls, websocket, ...endpointOptions } = options;
  const connectOptions = { port, host, path, reconnect, maxQueuedWhileDown, connectTimeout, tls, websocket };
  checkConnectOptions(connectOptions); // before the endpoint is built: nothing to close
  const endpoint = createEndpoint<Data>({ maxConnections: 1, ...endpointOptions });
  await endpoint.start();
  const client = endpoint.connect<Data>(connectOptions); // the endpoint's hooks: these options'
  client.once('end', () => void endpoint.close());
  return client;
}
