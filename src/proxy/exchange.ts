// One client request as it moves through the gateway: what is known about it so far,
// the current upstream attempt's abort controller, the request-wide timers, and the
// single place where it ends. finish() runs exactly once per request, whatever the
// outcome, and produces the one usage result.

import { GatewayError } from "../errors.ts";
import { estimateCompletionTokens, estimatePromptTokens } from "../metering/estimate.ts";
import type { TokenUsage, UsageResult, UsageSource } from "../metering/usage.ts";
import type { BackendState } from "../routing/backend-state.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import { inflightCount } from "../metrics/metrics.ts";
import type { IndexedKey } from "../auth/key-index.ts";
import type { Admission } from "../limits/types.ts";

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export interface RequestInfo {
  requestId: string;
  /** performance.now() at arrival. */
  t0: number;
  /** Date.now() at arrival. */
  startedAt: number;
  clientIp: string;
  traceparent: string | null;
  /** "?..." or "" */
  query: string;
}

/** Where an estimate comes from when the backend reports no usage. */
export interface EstimateSource {
  /** The generated text kept (all of it, or the first part of a long answer). */
  keptText(): string;
  /** All generated text / kept text (>= 1): the estimate is scaled by it. */
  coverage(): number;
}

export class Exchange {
  requestedModel = "";
  route = "";
  backend = "";
  upstreamModel = "";
  stream = false;
  retries = 0;
  bytesIn = 0;
  bytesOut = 0;
  ttftMs: number | null = null;
  /** Usage the backend reported. */
  usage: TokenUsage | null = null;
  /** Set once the backend started a successful answer: its tokens must be counted. */
  answered = false;
  requestBody: Record<string, unknown> | null = null;
  generated: EstimateSource | null = null;
  clientGone = false;
  /** Cut by a shutdown past server.drain_timeout. */
  cutByShutdown = false;
  /** The virtual key of the request (auth: keys). */
  key: IndexedKey | null = null;
  /** The rate-limit admission to settle with the real token count. */
  admission: Admission | null = null;
  /** x-ratelimit-* headers for the answer. */
  rateHeaders: Record<string, string> = NO_HEADERS;
  /**
   * The backend reported an error inside its stream (respond.ts): the record's error
   * code, even when the client leaves after it (its SDK raised the event and stopped).
   */
  streamError: string | null = null;
  /** The status of the answer the client got, once it started. */
  answerStatus = 0;

  private currentAc: AbortController | null = null;
  private backendState: BackendState | null = null;
  private done = false;

  constructor(
    readonly info: RequestInfo,
    readonly endpoint: string,
    private readonly rt: Runtime,
    private readonly services: Services,
  ) {
    rt.enter();
    inflightCount.inc();
    services.inFlight.add(this);
  }

  get requestId(): string {
    return this.info.requestId;
  }

  /** The client went away: stop the backend at once so it stops generating. */
  onClientGone(): void {
    if (this.done) return;
    this.clientGone = true;
    this.currentAc?.abort(CLIENT_GONE);
  }

  /** The gateway is stopping and the drain timeout passed: stop the backend, end the answer with a reason. */
  cutForShutdown(): void {
    if (this.done) return;
    this.cutByShutdown = true;
    this.currentAc?.abort(SHUTDOWN_CUT);
  }

  /** Whether the request's end is nobody's fault on the backend side (the client left, or we cut it). */
  get interrupted(): boolean {
    return this.clientGone || this.cutByShutdown;
  }

  /** A new upstream attempt on `state`'s backend; returns its abort controller. */
  beginAttempt(state: BackendState): AbortController {
    this.releaseBackend();
    const ac = new AbortController();
    this.currentAc = ac;
    this.backendState = state;
    state.inflight++;
    if (this.clientGone) ac.abort(CLIENT_GONE);
    else if (this.cutByShutdown) ac.abort(SHUTDOWN_CUT);
    return ac;
  }

  /** The attempt is over (failed, or its answer fully sent). */
  releaseBackend(): void {
    if (this.backendState) {
      this.backendState.inflight--;
      this.backendState = null;
    }
  }

  firstByte(): void {
    if (this.ttftMs === null) this.ttftMs = performance.now() - this.info.t0;
  }

  /** End the request: exactly once. status is what the client got (499: it left first). */
  finish(status: number, errorCode: string | null): void {
    if (this.done) return;
    this.done = true;
    this.services.inFlight.delete(this);
    this.releaseBackend();
    this.currentAc = null;
    inflightCount.dec();
    if (this.cutByShutdown) {
      // We cut it (the client may also see its socket close after): our doing, not theirs.
      if (status === 499) status = 503;
      errorCode = "shutting_down";
    } else if (this.streamError !== null) {
      // the client got a 200 and the backend's error event; its leaving afterwards is
      // the consequence, not the cause
      if (status === 499) status = this.answerStatus;
      errorCode = this.streamError;
    } else if (this.clientGone) {
      status = 499;
      errorCode = "client_closed_request";
    }
    const latencyMs = performance.now() - this.info.t0;
    const base = this.result(status, errorCode, latencyMs);
    if (this.usage || !this.answered || !this.requestBody) {
      this.charge(base);
      this.services.usage.record(base);
      this.rt.leave();
      return;
    }
    // The backend answered but reported no usage (no support, or the stream was cut):
    // count with the tokenizer, off the hot path. The request counts as in flight on its
    // runtime until recorded, so a drain waits for the estimate.
    void this.estimate(base).then((u) => {
      this.charge(u);
      this.services.usage.record(u);
      this.rt.leave();
    });
  }

  /** Settle the rate limits and debit the key's quota with the request's real tokens. */
  private charge(u: UsageResult): void {
    this.admission?.settle(u.totalTokens, Date.now());
    if (this.key && u.totalTokens > 0) this.services.keys?.ledger.debit(this.key.record.id, u.totalTokens, Date.now());
  }

  private result(status: number, errorCode: string | null, latencyMs: number): UsageResult {
    const u = this.usage;
    const source: UsageSource = u ? "backend" : "none";
    return {
      requestId: this.info.requestId,
      startedAt: this.info.startedAt,
      keyId: this.key ? this.key.record.id : null,
      endpoint: this.endpoint,
      requestedModel: this.requestedModel,
      route: this.route,
      backend: this.backend,
      upstreamModel: this.upstreamModel,
      stream: this.stream,
      promptTokens: u?.promptTokens ?? 0,
      completionTokens: u?.completionTokens ?? 0,
      cachedTokens: u?.cachedTokens ?? 0,
      cacheWriteTokens: u?.cacheWriteTokens ?? 0,
      totalTokens: (u?.promptTokens ?? 0) + (u?.completionTokens ?? 0),
      source,
      status,
      errorCode,
      ttftMs: this.ttftMs,
      latencyMs,
      retries: this.retries,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      clientIp: this.info.clientIp,
      traceparent: this.info.traceparent,
    };
  }

  private async estimate(base: UsageResult): Promise<UsageResult> {
    try {
      const promptTokens = await estimatePromptTokens(this.requestBody!);
      const g = this.generated;
      const completionTokens = g ? await estimateCompletionTokens(g.keptText(), g.coverage()) : 0;
      return { ...base, promptTokens, completionTokens, cachedTokens: 0, cacheWriteTokens: 0, totalTokens: promptTokens + completionTokens, source: "estimate" };
    } catch (err) {
      this.services.log.error("token estimate failed", { request_id: base.requestId, error: String(err) });
      return base;
    }
  }
}

/** The abort reason when a shutdown cuts the request. */
export const SHUTDOWN_CUT = new GatewayError(
  "shutting_down",
  "The gateway shut down before the answer was complete (server.drain_timeout passed); retry on another instance.",
);

/** The abort reason when the client disconnects. */
export const CLIENT_GONE = new GatewayError("client_closed_request");
