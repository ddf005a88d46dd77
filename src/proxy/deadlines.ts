// The timeouts of one upstream attempt, on a single lazy timer. Reads only note the
// time (no timer is touched per chunk); when the timer fires it looks at which deadline
// passed and either aborts the attempt with that deadline's error or sleeps until the
// next one. Deadlines:
//   connect    no answer yet at timeouts.connect: check that the backend accepts a TCP
//              connection at all (Bun's fetch has no connect timeout of its own)
//   first_byte no response headers within timeouts.first_byte
//   idle       a read of the answer's body waited timeouts.idle for bytes. Only time
//              spent waiting on the backend counts: a slow client that does not pull
//              (backpressure) is not the backend's silence.
//   total      the whole request (all attempts, answer included) past timeouts.total

import type { Timeouts } from "../config/types.ts";
import { GatewayError } from "../errors.ts";

export interface DeadlineOptions {
  timeouts: Timeouts;
  /** performance.now() of the request's arrival: the total deadline counts from there. */
  requestStart: number;
  /** Total time allowed for the request (the route's, not the backend's). */
  totalMs: number;
  backendName: string;
  /** Called once when the connect deadline passes without an answer; null = no check. */
  onConnectDeadline: ((abort: (err: GatewayError) => void) => void) | null;
}

export class AttemptDeadlines {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed timer fires (performance.now() time). */
  private timerAt = 0;
  private headersIn = false;
  private connectChecked: boolean;
  /** A body read is waiting on the backend since waitingSince. */
  private waiting = false;
  private waitingSince = 0;
  private readonly connectAt: number;
  private readonly firstByteAt: number;
  private readonly totalAt: number;

  constructor(
    private readonly ac: AbortController,
    private readonly opts: DeadlineOptions,
  ) {
    const now = performance.now();
    const t = opts.timeouts;
    this.connectChecked = opts.onConnectDeadline === null || t.connectMs >= t.firstByteMs;
    this.connectAt = now + t.connectMs;
    this.firstByteAt = now + t.firstByteMs;
    this.totalAt = opts.requestStart + opts.totalMs;
    this.arm(now);
  }

  /** Response headers arrived: from now on the idle deadline applies to body reads. */
  headersArrived(): void {
    this.headersIn = true;
    // The timer waits for the first-byte deadline; re-arm only when an idle deadline
    // could come sooner (with the defaults, first_byte = idle, it cannot).
    const now = performance.now();
    if (this.timerAt > now + this.opts.timeouts.idleMs) {
      this.stop();
      this.arm(now);
    }
  }

  /** A read of the body starts waiting on the backend. */
  reading(): void {
    this.waiting = true;
    this.waitingSince = performance.now();
  }

  /** The read got its bytes. */
  readDone(): void {
    this.waiting = false;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private next(now: number): number {
    if (this.headersIn) {
      // While no read waits, wake up one idle period from now at the latest: a read that
      // starts in between is then caught no later than its own idle deadline.
      return Math.min((this.waiting ? this.waitingSince : now) + this.opts.timeouts.idleMs, this.totalAt);
    }
    return Math.min(this.connectChecked ? this.firstByteAt : this.connectAt, this.firstByteAt, this.totalAt);
  }

  private arm(now: number): void {
    const at = this.next(now);
    this.timerAt = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - now));
  }

  private readonly fire = (): void => {
    this.timer = null;
    if (this.ac.signal.aborted) return;
    const now = performance.now();
    const { timeouts: t, backendName } = this.opts;
    if (now >= this.totalAt) {
      return this.abort(new GatewayError("upstream_total_timeout", `The request took longer than the total time allowed (${this.opts.totalMs} ms).`));
    }
    if (!this.headersIn) {
      if (now >= this.firstByteAt) {
        return this.abort(new GatewayError("upstream_first_byte_timeout", `Backend ${backendName} did not start answering within ${t.firstByteMs} ms.`));
      }
      if (!this.connectChecked && now >= this.connectAt) {
        this.connectChecked = true;
        this.opts.onConnectDeadline?.((err) => {
          if (!this.headersIn) this.abort(err);
        });
      }
    } else if (this.waiting && now >= this.waitingSince + t.idleMs) {
      return this.abort(new GatewayError("upstream_idle_timeout", `Backend ${backendName} sent nothing for ${t.idleMs} ms.`));
    }
    this.arm(now);
  };

  private abort(err: GatewayError): void {
    this.stop();
    this.ac.abort(err);
  }
}
