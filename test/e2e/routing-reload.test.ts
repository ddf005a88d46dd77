// A reload that changes the weights and the backends of a route while requests keep
// coming: no request fails, and the new split applies from the reload on. A few client
// workers send requests one after the other without pause; the test moves on when they
// have sent enough (counted answers), never on the clock.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { saveInPlace } from "../helpers/daemon.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { chat, chatSequence, metricsText, tally, ROUTING_CONFIG_HEAD } from "../helpers/routing.ts";

let a: MockServer;
let b: MockServer;
let c: MockServer;
let proxy: ProxyProcess;

function config(backends: Record<string, number>): string {
  const urls: Record<string, string> = { a: a.url, b: b.url, c: c.url };
  const names = Object.keys(backends);
  return `listen: 127.0.0.1:0
${ROUTING_CONFIG_HEAD}backends:
${names.map((n) => `  - { name: ${n}, provider: openai, url: ${urls[n]}, weight: ${backends[n]} }`).join("\n")}
models:
  - name: steady
    strategy: weighted
    targets: [${names.map((n) => `{ backend: ${n} }`).join(", ")}]
`;
}

beforeAll(async () => {
  const plainMock = () => startMockServer({ tokens: 2, delayMs: 0 });
  [a, b, c] = await Promise.all([plainMock(), plainMock(), plainMock()]);
  proxy = await startProxy({ config: config({ a: 1, b: 0 }) });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await Promise.all([a, b, c].map((s) => s.stop()));
});

interface Outcome {
  status: number;
  backend: string | null;
  /** Which reloads the test had seen before the request was sent. */
  sentAfter: number;
  /** Which reloads the test had started (saved) before the answer came. */
  answeredBefore: number;
  error: string;
}

describe("reload under traffic", () => {
  test(
    "weights 1:0 → 1:1 → backend a removed and c added at 3:1: no request fails, each split applies after its reload",
    async () => {
      const WORKERS = 4;
      /** A bound on each worker, so a stuck test ends; the waits below need far fewer. */
      const MAX_PER_WORKER = 1500;
      const outcomes: Outcome[] = [];
      let reloadsSeen = 0;
      let saves = 0;
      let stop = false;
      const waiters: { n: number; resolve: () => void }[] = [];
      const worker = async () => {
        for (let i = 0; i < MAX_PER_WORKER && !stop; i++) {
          const sentAfter = reloadsSeen;
          let o: Outcome;
          try {
            const s = await chat(proxy.url, "steady");
            o = { status: s.status, backend: s.backend, sentAfter, answeredBefore: saves, error: s.status === 200 ? "" : s.text };
          } catch (err) {
            o = { status: 0, backend: null, sentAfter, answeredBefore: saves, error: String(err) };
          }
          outcomes.push(o);
          for (const w of waiters.filter((x) => outcomes.length >= x.n)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      };
      /** Resolves once `more` further answers have come in (or the workers gave up). */
      const answers = (more: number) => {
        const n = outcomes.length + more;
        return new Promise<void>((resolve) => waiters.push({ n, resolve }));
      };
      const reload = async (next: string) => {
        const reloaded = proxy.nextLog((l) => l.msg === "config reloaded", `reload ${saves + 1}`);
        saves++;
        saveInPlace(proxy.configPath, next);
        await reloaded;
        reloadsSeen++;
      };

      const running = Promise.all(Array.from({ length: WORKERS }, worker));
      const finished = running.then(() => {
        for (const w of waiters.splice(0)) w.resolve();
      });
      await answers(50);
      await reload(config({ a: 1, b: 1 }));
      await answers(100);
      await reload(config({ b: 3, c: 1 }));
      await answers(100);
      stop = true;
      await finished;

      // no request failed, before, during or after the reloads
      const failed = outcomes.filter((o) => o.status !== 200);
      expect(failed).toEqual([]);
      expect(outcomes.length).toBeGreaterThanOrEqual(250);

      // answered before the first save: the first config, all to a (b has weight 0)
      const first = outcomes.filter((o) => o.answeredBefore === 0);
      expect(first.length).toBeGreaterThan(0);
      expect(tally(first.map((o) => o.backend))).toEqual({ a: first.length });
      // sent once the first reload was in force and answered before the second save: 1:1
      const second = tally(outcomes.filter((o) => o.sentAfter === 1 && o.answeredBefore === 1).map((o) => o.backend));
      expect(Object.keys(second).sort()).toEqual(["a", "b"]);
      expect(Math.abs(second.a! - second.b!)).toBeLessThanOrEqual(2 * WORKERS);
      // sent after the second reload: a is gone, c is there
      const third = tally(outcomes.filter((o) => o.sentAfter === 2).map((o) => o.backend));
      expect(Object.keys(third).sort()).toEqual(["b", "c"]);

      // with the workers stopped, requests one after the other get exactly 3:1
      expect(tally(await chatSequence(proxy.url, "steady", 40))).toEqual({ b: 30, c: 10 });
      // the removed backend is gone from the metrics, the added one is there
      const text = await metricsText(proxy.url);
      expect(text).not.toContain('llmproxy_backend_up{backend="a"}');
      expect(text).toContain('llmproxy_backend_up{backend="c"} 1');
    },
    60_000,
  );
});
