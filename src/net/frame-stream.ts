// A connection's frames as an async iterator, for a task per connection
// (`for await (const frame of connection)`). It turns the connection's push
// delivery into pulls: each frame is offered with a promise that settles when the
// loop asks for the next one, so the connection holds its next frame (and the
// frame's bytes stay valid) until then. A loop that stops pulling holds every
// later frame in the rx ring, and reading pauses when the ring is full.
//
// Invariant: at most one frame is out at a time (offered and not yet released).

export class FrameStream implements AsyncIterableIterator<Uint8Array> {
  /** The loop is waiting in next(). */
  private waiter: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  /** A frame offered before the loop asked for it. */
  private offered: Uint8Array | null = null;
  /** Settles the promise of the frame the loop holds (or is about to take). */
  private release: (() => void) | null = null;
  /** The loop has taken the offered frame: releasing it waits for its next pull. */
  private taken = false;
  private ended = false;

  /** The connection delivers a frame; the promise settles once the loop is done with it. */
  offer(frame: Uint8Array): Promise<void> {
    return new Promise(resolve => {
      this.release = resolve;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        this.taken = true;
        w({ value: frame, done: false });
      } else {
        this.offered = frame;
      }
    });
  }

  /** No more frames (the connection is closing): the loop ends after the frame it holds. */
  end(): void {
    this.ended = true;
    if (this.offered) {
      // Offered, never taken: nobody holds it.
      this.offered = null;
      const r = this.release;
      this.release = null;
      r?.();
    }
    const w = this.waiter;
    this.waiter = null;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    this.releaseTaken();
    if (this.offered) {
      const value = this.offered;
      this.offered = null;
      this.taken = true;
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise(resolve => (this.waiter = resolve));
  }

  /** The loop left early (break, return, throw): it takes no more frames. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.releaseTaken();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private releaseTaken(): void {
    if (!this.taken) return;
    this.taken = false;
    const r = this.release;
    this.release = null;
    r?.();
  }
}
