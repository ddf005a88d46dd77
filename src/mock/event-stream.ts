// The streaming engine shared by every wire format: turns a script (events before the
// first token, one event per token, events after the last) into a ReadableStream that
// produces each event when it is due, so the bytes reach the client in real time.
//
// Pull-based: the next event is made only when the reader wants one, so a slow client
// is never buffered for, and an abort stops generation at once (no timer left behind).

const encoder = new TextEncoder();

/** Least time between the last token sent and a drop's reset (see the drop in pull). */
const DROP_GRACE_MS = 25;
/** Most token events made in one pull when there is no delay between tokens. */
const MAX_BATCH = 64;

export interface StreamScript {
  /** Events before the first token (role chunk, message_start, ...), sent together with it. */
  head: string[];
  /** How many token events there are. */
  tokens: number;
  /** The event carrying token i. */
  token(i: number): string;
  /** Events after the last token (finish reason, usage, [DONE]); built when reached. */
  tail(): string[];
  /**
   * The wire format's in-stream error event (overloaded), sent instead of the rest after
   * `sent` tokens when the timing asks for one; absent when the format has none.
   */
  error?(sent: number): string;
}

export interface StreamTiming {
  delayMs: number;
  firstTokenDelayMs: number;
  /** After this many tokens: stall until the client gives up (null = never). */
  stallAfter: number | null;
  /** After this many tokens: reset the connection (null = never). */
  dropAfter: number | null;
  /** After this many tokens: send the script's error event and end the stream (null = never). */
  errorAfter: number | null;
}

/** Where the stream reports progress; implemented by the handler's per-request record. */
export interface StreamSink {
  readonly signal: AbortSignal;
  tokenSent(): void;
  /** Called exactly once: the stream completed or was dropped (false), or the client left (true). */
  end(aborted: boolean): void;
  /**
   * The error a drop puts on the body stream. Bun.serve turns any errored body into a
   * reset connection, but logs the reason unless it is undefined, so the standalone
   * server drops with undefined and in-process callers get a real Error.
   */
  readonly dropReason: unknown;
}

/** Resolves after ms, or at once when wake() is called (on abort). */
class Pause {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private resolve: (() => void) | undefined;

  wait(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      // null = until woken: a stall that only the client's abort ends.
      if (ms !== null) this.timer = setTimeout(resolve, ms);
    });
  }

  wake(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.resolve?.();
  }
}

export function eventStream(script: StreamScript, timing: StreamTiming, sink: StreamSink): ReadableStream<Uint8Array> {
  const { signal } = sink;
  const stopAt = stopPoint(timing, script);
  const pause = new Pause();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let sent = 0;
  let started = false;
  let over = false;

  const finish = (aborted: boolean): void => {
    if (over) return;
    over = true;
    signal.removeEventListener("abort", onAbort);
    pause.wake();
    sink.end(aborted);
  };
  // Like fetch: when the caller aborts, its body stream errors with the abort reason, so
  // an in-process reader never waits on a stream nobody feeds any more.
  function onAbort(): void {
    if (over) return;
    finish(true);
    try {
      controller?.error(signal.reason);
    } catch {
      // already closed or cancelled by the reader: nothing to tell it.
    }
  }

  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort);
    },
    async pull(c) {
      if (over) return;
      if (!started) {
        started = true;
        if (timing.firstTokenDelayMs > 0) {
          await pause.wait(timing.firstTokenDelayMs);
          if (over) return;
        }
        for (const ev of script.head) c.enqueue(encoder.encode(ev));
      } else if (sent > 0 && sent < script.tokens && sent !== stopAt && timing.delayMs > 0) {
        await pause.wait(timing.delayMs);
        if (over) return;
      }
      if (sent === stopAt) {
        if (timing.errorAfter !== null && script.error !== undefined && Math.min(timing.errorAfter, script.tokens) === stopAt) {
          // An error event ends the stream cleanly (the provider's way to say it failed
          // mid-answer); a drop or stall at the same point gives way to it.
          c.enqueue(encoder.encode(script.error(sent)));
          c.close();
          finish(false);
        } else if (timing.dropAfter !== null && Math.min(timing.dropAfter, script.tokens) === stopAt) {
          // Bun resets (RST) the connection of an errored body, and a reset makes the
          // peer's kernel throw away bytes it has received but not yet read. Dropping only
          // when the next token would have come (at least DROP_GRACE_MS) lets the reader
          // take the N tokens first, even on a loaded machine, so "N tokens, then a reset"
          // is what every client sees.
          await pause.wait(Math.max(timing.delayMs, DROP_GRACE_MS));
          if (over) return;
          finish(false);
          c.error(sink.dropReason);
        } else {
          await pause.wait(null);
        }
        return;
      }
      if (sent < script.tokens) {
        // Without a pause between tokens the next ones are due now: enqueue a batch (each
        // still its own chunk) rather than pay a promise round trip per token. Bounded,
        // so a huge x-mock-tokens still honours the reader's backpressure.
        const batchEnd = timing.delayMs > 0 ? sent + 1 : Math.min(script.tokens, sent + MAX_BATCH, stopAt ?? Infinity);
        do {
          c.enqueue(encoder.encode(script.token(sent)));
          sent++;
          sink.tokenSent();
        } while (sent < batchEnd);
        return;
      }
      for (const ev of script.tail()) c.enqueue(encoder.encode(ev));
      c.close();
      finish(false);
    },
    cancel() {
      // The reader went away (Bun cancels the body when the client disconnects).
      finish(true);
    },
  });
}

/**
 * The token count at which the stream stalls, drops or errors, if any: the earliest. A
 * count at or past the last token stops before the closing events, so "all tokens but
 * no [DONE]" can be tested too.
 */
function stopPoint(t: StreamTiming, script: StreamScript): number | null {
  let at: number | null = null;
  for (const n of [t.stallAfter, t.dropAfter, script.error === undefined ? null : t.errorAfter]) {
    if (n !== null && (at === null || n < at)) at = n;
  }
  return at === null ? null : Math.min(at, script.tokens);
}

/** A stream of a few fixed chunks, then a stall or a reset: a body cut short. */
export function cutShortStream(chunks: string[], mode: "stall" | "drop", sink: StreamSink): ReadableStream<Uint8Array> {
  const script: StreamScript = { head: chunks, tokens: 0, token: () => "", tail: () => [] };
  const timing: StreamTiming = { delayMs: 0, firstTokenDelayMs: 0, stallAfter: mode === "stall" ? 0 : null, dropAfter: mode === "drop" ? 0 : null, errorAfter: null };
  return eventStream(script, timing, sink);
}

/** Resolves true after ms, or false as soon as the signal aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves when the signal aborts (never, if nobody aborts it). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
