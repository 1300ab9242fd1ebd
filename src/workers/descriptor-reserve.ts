// One descriptor held back for transferring sockets to worker threads.
//
// Node transfers a socket to another thread by dup(2)ing its descriptor while it
// serializes the message, and closes the original. At RLIMIT_NOFILE the dup
// fails and the message is dropped without a word (measured on Node 24.21:
// postMessage returns, the socket reads as destroyed, the worker gets nothing):
// the descriptor stays open with nobody to serve or close it, and the client
// waits forever. So the accepting thread keeps one descriptor (/dev/null) in
// reserve and gives it up for the instant of each transfer: the dup takes its
// number, closing the original frees one, and the reserve takes that back.
// When the reserve cannot be taken back (another thread took the number), the
// caller does not transfer: it closes the socket (a number is free again) and
// counts the drop. Cost: an open and a close per transfer.
//
// Invariant: `fd` is either -1 or an open descriptor this class owns.

import fs from 'node:fs';

const isShortage = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EMFILE' || code === 'ENFILE';
};

export class DescriptorReserve {
  private fd = -1;

  constructor() {
    this.take();
  }

  /** Hold a descriptor if none is held; false when the process has none left. */
  private take(): boolean {
    if (this.fd >= 0) return true;
    try {
      this.fd = fs.openSync('/dev/null', 'r');
      return true;
    } catch (err) {
      if (isShortage(err)) return false;
      throw err;
    }
  }

  /** Run `use` with the reserved descriptor free for it. False, without running it, when none could be set aside. */
  spend(use: () => void): boolean {
    if (!this.take()) return false;
    fs.closeSync(this.fd);
    this.fd = -1;
    try {
      use();
    } finally {
      this.take();
    }
    return true;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
