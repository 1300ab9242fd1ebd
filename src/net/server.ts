// A ringwire server: an Endpoint (core, connections, hooks, limits, stats) fed by
// a listening net.Server. listen() rejects with the listener's error
// (EADDRINUSE, EACCES, ENOTFOUND for a bad host…) instead of emitting it, and a
// later error of the listening socket is emitted as 'error' only when someone
// listens for it, so nothing crashes the process on an unhandled 'error'.
// An accept that fails for lack of descriptors (EMFILE/ENFILE) pauses the
// listener briefly instead (accept-guard.ts): counted as ERR_NO_DESCRIPTORS.

import net, { type AddressInfo } from 'node:net';
import { configError, E_NO_DESCRIPTORS, ringwireError } from '../core/errors.ts';
import { guardAccepts, type AcceptGuard } from './accept-guard.ts';
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
  private bound: net.ListenOptions | undefined;
  private readonly guard: AcceptGuard & { handles(err: Error): boolean };

  constructor(options: ServerOptions<Data>, makeCore: CoreFactory) {
    super(options, makeCore);
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, raw => this.serve(raw));
    this.listener = this.server;
    this.guard = guardAccepts(this.server, () => this.bound!, (err, pause) => {
      const info = { id: null, remoteAddress: undefined, remotePort: undefined };
      this.clientError(ringwireError(E_NO_DESCRIPTORS, `accept failed (${(err as NodeJS.ErrnoException).code}): not accepting for ${pause} ms; connections waiting were reset`, err), info);
    });
    this.server.on('error', err => {
      if (this.bound && this.guard.handles(err)) return;
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
    // Listening again after a descriptor shortage: the same address and the port it bound.
    this.bound = { port: this.address()!.port, host: o.host ?? '127.0.0.1', backlog: o.backlog ?? 511, reusePort: o.reusePort };
    this.emit('listening');
    return this.address()!;
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  protected override stopAccepting(): Promise<void> {
    this.guard.stop();
    return new Promise(resolve => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }
}
