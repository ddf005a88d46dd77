// A usage webhook receiver for end-to-end tests: Bun.serve on 127.0.0.1 that checks the
// signature of every POST the way a real receiver must (HMAC-SHA256 over
// "TIMESTAMP.BODY" with the shared secret, compared in constant time, timestamp recent),
// keeps every batch, and collects the records of acknowledged batches by their `id`.
// A test switches it between answering 200 and 503, and can take it off the network and
// bring it back on the same port: the port is held by a socket that never listens
// (refusing-ports.ts), so while the receiver is down connections are refused and no
// other test's server can take the port. Tests await its events, never the clock.

import { createHmac, timingSafeEqual } from "node:crypto";
import type { Server } from "bun";
import { holdRefusingPorts, type RefusingPorts } from "./refusing-ports.ts";

/** A record as the webhook carries it: the usage_records row, stream as a boolean, plus time. */
export type WebhookRecord = Record<string, unknown> & { id: string; request_id: string; ts: number; time: string };

export interface ReceivedBatch {
  /** 1, 2, 3, ... in order of arrival. */
  seq: number;
  timestamp: string | null;
  signature: string | null;
  /** The signature matched the body, the timestamp and the secret, and the timestamp is recent. */
  signatureOk: boolean;
  contentType: string | null;
  /** All request headers, as received. */
  headers: Headers;
  body: string;
  /** The parsed body's records ([] when the body did not parse). */
  records: WebhookRecord[];
  object: unknown;
  /** The status this receiver answered (0: none, the answer was "lost"). */
  answered: number;
}

/**
 * accept: store the records, answer 200. unavailable: answer 503 (a batch not signed
 * right is always refused with 401). lose-answer: store the
 * records (the receiver took them) but never answer, as when the 200 is lost on the way
 * back; the sender must time out and send them again.
 */
export type ReceiverMode = "accept" | "unavailable" | "lose-answer";

export interface WebhookReceiver {
  /** http://127.0.0.1:PORT/usage */
  url: string;
  /** Every POST received, acknowledged or not. */
  readonly batches: ReceivedBatch[];
  /** Records of batches answered 2xx (or taken with the answer lost), by id (the first copy). */
  readonly accepted: Map<string, WebhookRecord>;
  /** Records that arrived again after being taken (same id). */
  readonly duplicates: number;
  /** Ids that arrived twice with different contents (must stay empty). */
  readonly conflicts: string[];
  /** How to answer from now on. */
  setMode(mode: ReceiverMode): void;
  /** Stop listening: new connections are refused, open ones closed. */
  close(): Promise<void>;
  /** Listen again, on the same port. */
  open(): void;
  /** Resolves when pred() holds; re-checked at every POST (bounded by a timeout). */
  waitFor(pred: () => boolean, what: string): Promise<void>;
  /** The next POST to arrive. */
  nextBatch(): Promise<ReceivedBatch>;
  stop(): Promise<void>;
}

/** Longest wait for a receiver event before the test fails (a bound, not a sleep). */
const WAIT_MS = 15_000;
/** Timestamps further off than this are refused as replays (what a receiver should do). */
const MAX_SKEW_S = 300;

export function expectedSignature(secret: string, timestamp: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

function signatureMatches(secret: string, timestamp: string | null, signature: string | null, body: string): boolean {
  if (timestamp === null || signature === null || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW_S) return false;
  const want = Buffer.from(expectedSignature(secret, timestamp, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const held: RefusingPorts = await holdRefusingPorts(1);
  const port = held.ports[0]!;
  let mode: ReceiverMode = "accept";
  const batches: ReceivedBatch[] = [];
  const accepted = new Map<string, WebhookRecord>();
  const acceptedJson = new Map<string, string>();
  const conflicts: string[] = [];
  let duplicates = 0;
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of [...watchers]) w();
  };

  const handle = async (req: Request): Promise<Response> => {
    if (req.method !== "POST") return new Response("POST only", { status: 405 });
    const body = await req.text();
    const timestamp = req.headers.get("x-llmproxy-timestamp");
    const signature = req.headers.get("x-llmproxy-signature");
    let parsed: { object?: unknown; records?: WebhookRecord[] } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      parsed = {};
    }
    const records = Array.isArray(parsed.records) ? parsed.records : [];
    const signatureOk = signatureMatches(secret, timestamp, signature, body);
    // a batch that is not signed right is refused, as a real receiver must
    const taken = signatureOk && mode !== "unavailable";
    const answered = !signatureOk ? 401 : mode === "accept" ? 200 : mode === "unavailable" ? 503 : 0;
    const batch: ReceivedBatch = {
      seq: batches.length + 1,
      timestamp,
      signature,
      signatureOk,
      contentType: req.headers.get("content-type"),
      headers: req.headers,
      body,
      records,
      object: parsed.object,
      answered,
    };
    batches.push(batch);
    if (taken) {
      for (const r of records) {
        const json = JSON.stringify(r);
        const before = acceptedJson.get(r.id);
        if (before === undefined) {
          accepted.set(r.id, r);
          acceptedJson.set(r.id, json);
        } else {
          duplicates++;
          if (before !== json) conflicts.push(r.id);
        }
      }
    }
    notify();
    if (answered === 0) {
      // hold the answer until the sender gives up on it
      await new Promise<void>((r) => (req.signal.aborted ? r() : req.signal.addEventListener("abort", () => r(), { once: true })));
      return new Response(null, { status: 204 });
    }
    if (answered === 401) return new Response("bad signature", { status: 401 });
    return answered === 200 ? Response.json({ ok: true }) : new Response("receiver unavailable", { status: 503 });
  };

  const listen = (): Server<undefined> =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      reusePort: true,
      fetch(req, srv) {
        // a held answer waits for the sender's own timeout, never Bun's idle cut
        srv.timeout(req, 0);
        return handle(req);
      },
    });
  let server: Server<undefined> | null = listen();

  const waitFor = (pred: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred()) return resolve();
      const check = () => {
        if (!pred()) return;
        watchers.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`webhook receiver: timed out waiting for ${what} (${batches.length} POSTs, ${accepted.size} records acknowledged)`));
      }, WAIT_MS);
      watchers.add(check);
    });

  return {
    url: `http://127.0.0.1:${port}/usage`,
    batches,
    accepted,
    get duplicates() {
      return duplicates;
    },
    conflicts,
    setMode: (m) => (mode = m),
    async close() {
      const s = server;
      server = null;
      await s?.stop(true);
    },
    open() {
      if (!server) server = listen();
    },
    waitFor,
    nextBatch() {
      const n = batches.length;
      return waitFor(() => batches.length > n, "the next POST").then(() => batches[n]!);
    },
    async stop() {
      await server?.stop(true);
      server = null;
      await held.stop();
    },
  };
}
