// One request's life inside the mock: what it sent, how it ended, and the listeners
// (tests, the CLI's request log) told about it exactly once.

import { mockErrorResponse, type MockProvider } from "./error-bodies.ts";
import type { StreamSink } from "./event-stream.ts";
import type { MockOptions } from "./options.ts";

/** What a test learns about each request once it is over. */
export interface MockRequestEnd {
  /** The answer's id (chatcmpl-..., msg_..., resp_...), or req_... when none was made. */
  id: string;
  /** The path as received, e.g. /v1/chat/completions. */
  path: string;
  stream: boolean;
  /** The client went away (its signal aborted, or it cancelled the body) before the end. */
  aborted: boolean;
  /** Completion tokens that left the mock: every token event of a stream, all of a whole answer. */
  completionTokensSent: number;
  promptTokens: number;
  /** The request headers as received. */
  headers: Headers;
  /** The raw request body as received. */
  body: string;
  /** The HTTP status answered; 0 when no headers were sent (x-mock-hang: headers). */
  status: number;
  /** The model the request named ("" when none). */
  model: string;
}

/** A request as it arrives, before its body is read (for tests that must act mid-request). */
export interface MockRequestStart {
  path: string;
  headers: Headers;
}

export interface MockStats {
  requests: number;
  active: number;
  completed: number;
  aborted: number;
  tokensSent: number;
}

export interface BackendState {
  readonly opts: MockOptions;
  readonly stats: MockStats;
  readonly listeners: Set<(e: MockRequestEnd) => void>;
  readonly startListeners: Set<(s: MockRequestStart) => void>;
  readonly now: () => number;
  readonly dropReason: unknown;
  /** Random per backend, so ids of two mocks in one test never collide. */
  readonly tag: string;
  seq: number;
  readonly modelsBody: string;
}

/** One request's record: counts what it sent and reports its end exactly once. */
export class Exchange implements StreamSink {
  id = "";
  stream = false;
  promptTokens = 0;
  sent = 0;
  status = 0;
  model = "";
  body = "";
  private ended = false;

  constructor(
    private readonly state: BackendState,
    private readonly req: Request,
    readonly path: string,
  ) {}

  get signal(): AbortSignal {
    return this.req.signal;
  }

  get dropReason(): unknown {
    return this.state.dropReason;
  }

  tokenSent(): void {
    this.sent++;
    this.state.stats.tokensSent++;
  }

  /** A whole (non-stream) answer went out with this many tokens. */
  wholeSent(tokens: number): void {
    this.sent = tokens;
    this.state.stats.tokensSent += tokens;
  }

  end(aborted: boolean): void {
    if (this.ended) return;
    this.ended = true;
    const { stats, listeners } = this.state;
    stats.active--;
    if (aborted) stats.aborted++;
    else stats.completed++;
    if (listeners.size === 0) return;
    notify(listeners, {
      id: this.id,
      path: this.path,
      stream: this.stream,
      aborted,
      completionTokensSent: this.sent,
      promptTokens: this.promptTokens,
      headers: this.req.headers,
      body: this.body,
      status: this.status,
      model: this.model,
    });
  }

  /** Answers an error at once and records the end. */
  fail(provider: MockProvider, status: number, message: string, headers?: Record<string, string>): Response {
    this.status = status;
    this.end(false);
    return mockErrorResponse(provider, status, message, headers ? { headers } : {});
  }

  /** The client left while nothing was being sent; the Response goes nowhere. */
  abandon(): Response {
    this.end(true);
    return new Response(null, { status: 499 });
  }
}

export function notify<T>(listeners: Set<(e: T) => void>, e: T): void {
  // A copy: a listener may unsubscribe (nextEnd) or subscribe while we iterate.
  for (const listener of [...listeners]) {
    try {
      listener(e);
    } catch (err) {
      // A failing test listener must not break the answer; surface it on its own.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

export function nextMatching<T>(subscribe: (l: (e: T) => void) => () => void, predicate: (e: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((e) => {
      if (!predicate(e)) return;
      off();
      resolve(e);
    });
  });
}

