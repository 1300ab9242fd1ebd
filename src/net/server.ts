// A ringwire server: an Endpoint (core, connections, hooks, limits, stats) fed by
// a listening net.Server. listen() rejects with the listener's error
// (EADDRINUSE, EACCES, ENOTFOUND for a bad host…) instead of emitting it, and a
// later error of the listening socket is emitted as 'error' only when someone
// listens for it, so nothing crashes the process on an unhandled 'error'.

import net, { type AddressInfo } from 'node:net';
import { configError } from '../core/errors.ts';
import { Endpoint, type CoreFactory, type EndpointOptions } from './endpoint.ts';

export type ServerOptions<Data = any> = EndpointOptions<Data>;

export interface ListenOptions {
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The kernel's queue of connections not yet accepted. Default 511. */
  backlog?: number;
  reusePort?: boolean;
}

export class RingwireServer<Data = any> extends Endpoint<Data> {
  private readonly server: net.Server;

  constructor(options: ServerOptions<Data>, makeCore: CoreFactory) {
    super(options, makeCore);
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, raw => this.serve(raw));
    this.listener = this.server;
    this.server.on('error', err => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Build the core (once) and listen. Resolves with the bound address; rejects with the error if it cannot. */
  async listen(portOrOptions: number | ListenOptions = {}, host?: string): Promise<AddressInfo> {
    const o: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, host } : portOrOptions;
    await this.start();
    if (this.closing) throw configError('listen() after close(): create a new server to listen again');
    if (this.server.listening) throw configError('the server is already listening');
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1', backlog: o.backlog ?? 511, reusePort: o.reusePort }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.emit('listening');
    return this.address()!;
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  protected override stopAccepting(): Promise<void> {
    return new Promise(resolve => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }
}
