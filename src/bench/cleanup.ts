// What a benchmark run must undo whatever way it ends: the processes it started, the
// servers it opened, the temp dirs it made. Undone in reverse order (the proxy before
// the backends it forwards to, the webhook receiver after the proxy that posts to it).

export interface Undo {
  /** The orderly way (SIGTERM and wait, stop a server). */
  stop(): Promise<void>;
  /** The way that cannot wait: when the process is exiting (SIGKILL, rmSync). */
  now(): void;
}

export class Cleanup {
  private readonly undos: Undo[] = [];

  add(undo: Undo): void {
    this.undos.push(undo);
  }

  /** Undo everything, last added first; one failure does not stop the rest. */
  async run(): Promise<void> {
    while (this.undos.length > 0) {
      const u = this.undos.pop()!;
      try {
        await u.stop();
      } catch {
        u.now();
      }
    }
  }

  /** Undo everything synchronously (from an "exit" handler or a second Ctrl-C). */
  runNow(): void {
    while (this.undos.length > 0) {
      try {
        this.undos.pop()!.now();
      } catch {
        // keep going: the others must still be undone
      }
    }
  }
}
