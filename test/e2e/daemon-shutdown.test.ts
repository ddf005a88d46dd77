// Graceful shutdown of the real daemon process: on SIGTERM or SIGINT a stream in flight
// finishes complete, new connections are refused, the process logs "stopped" and exits
// 0; a stream longer than server.drain_timeout is cut at that timeout; a second signal
// stops at once. Every wait is on a log line, a stream read or the process's exit.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { describe, expect, test } from "bun:test";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startMockServer } from "../../src/mock/server.ts";
import { chatText, openIdleConnection, readSse, tryConnect, type SseStream } from "../helpers/daemon.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { EXIT_WITH_STDIN } from "../../src/cli/exit-with-parent.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

function config(drainTimeout: string): string {
  return `listen: 127.0.0.1:0
auth: none
server: { drain_timeout: ${drainTimeout} }
backends:
  - { name: m, provider: mock, mock: { tokens: 3, delay: 0ms } }
models:
  - { name: slow, targets: [{ backend: m }] }
`;
}

const isShuttingDown = (l: LogLine) => l.msg.startsWith("shutting down");
const isStopped = (l: LogLine) => l.msg === "stopped";

/** Start a streamed chat of `tokens` tokens, `delayMs` apart, and read its first event. */
async function startStream(p: ProxyProcess, tokens: number, delayMs: number): Promise<{ sse: SseStream; requestId: string }> {
  const res = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-mock-tokens": String(tokens), "x-mock-delay-ms": String(delayMs) },
    body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  expect(res.status).toBe(200);
  const sse = readSse(res);
  // the stream is under way: the daemon counts it in flight from here on
  expect(await sse.next()).not.toBeNull();
  return { sse, requestId: res.headers.get("x-request-id")! };
}

describe("graceful shutdown on SIGTERM and SIGINT", () => {
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    test(
      `${sig}: the stream ends complete, new connections are refused, the process logs "stopped" and exits 0`,
      async () => {
        const p = await startProxy({ config: config("10s") });
        try {
          const { sse, requestId } = await startStream(p, 30, 30);
          const shuttingDown = p.nextLog(isShuttingDown, "the shutting-down line");
          p.signal(sig);
          const line = await shuttingDown;
          expect(line).toMatchObject({ signal: sig, in_flight: 1 });

          // once shutdown began, a new connection is refused (the stream still runs)
          expect(await tryConnect(p.url)).toBe("refused");

          const rest = await sse.rest();
          expect(rest.error).toBe(null);
          expect(sse.data.at(-1)).toBe("[DONE]");
          expect(chatText(sse.data)).toBe(mockCompletionText(30));

          expect(await p.proc.exited).toBe(0);
          await p.waitForLog(isStopped, 'the "stopped" line');
          // written before "stopped": the daemon waits for its requests' records
          const access = p.logs.find((l) => l.msg === "request" && l.request_id === requestId);
          expect(access).toMatchObject({ status: 200, completion_tokens: 30 });
          expect(p.logs.some((l) => l.msg.startsWith("drain timeout"))).toBe(false);
        } finally {
          await p.stop();
        }
      },
      15_000,
    );
  }

  test("an idle keep-alive connection does not hold the shutdown up (keepalive_timeout is 75 s)", async () => {
    const p = await startProxy({ config: config("10m") });
    try {
      const idle = await openIdleConnection(p.url);
      p.signal("SIGTERM");
      expect(await p.proc.exited).toBe(0);
      await idle.closed;
      await p.waitForLog(isStopped, 'the "stopped" line');
    } finally {
      await p.stop();
    }
  });

  test("with nothing in flight, SIGTERM stops at once with exit 0", async () => {
    const p = await startProxy({ config: config("10s") });
    const stopped = p.nextLog(isStopped, 'the "stopped" line');
    expect(await p.stop("SIGTERM")).toBe(0);
    expect((await stopped).signal).toBe("SIGTERM");
  });
});

test(
  "a stream longer than server.drain_timeout is cut at the timeout, and the process still exits 0",
  async () => {
    const p = await startProxy({ config: config("300ms") });
    try {
      // 1000 tokens 30 ms apart: 30 s, far longer than the drain timeout and the test's own
      const { sse } = await startStream(p, 1000, 30);
      const cut = p.nextLog((l) => l.msg.startsWith("drain timeout reached"), "the drain-timeout line");
      p.signal("SIGTERM");
      const warning = await cut;
      expect(warning).toMatchObject({ level: "warn", in_flight: 1, drain_timeout_ms: 300 });
      await sse.rest();
      // cut: the stream never got to its end
      expect(sse.data).not.toContain("[DONE]");
      expect(chatText(sse.data).length).toBeLessThan(mockCompletionText(1000).length);
      expect(await p.proc.exited).toBe(0);
      await p.waitForLog(isStopped, 'the "stopped" line');
    } finally {
      await p.stop();
    }
  },
  15_000,
);

test(
  "a stream stalled on a network backend is cut at the drain timeout too, and the process exits 0",
  async () => {
    const mock = await startMockServer({ tokens: 50, delayMs: 0 });
    const p = await startProxy({
      config: `listen: 127.0.0.1:0
auth: none
server: { drain_timeout: 300ms }
timeouts: { idle: 10m, total: 10m }
backends:
  - { name: net, provider: openai, url: ${mock.url} }
models:
  - { name: slow, targets: [{ backend: net }] }
`,
    });
    try {
      // two tokens, then the backend sends nothing more and never ends the stream
      const res = await fetch(`${p.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-mock-hang-after": "2" },
        body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "hi" }], stream: true }),
      });
      expect(res.status).toBe(200);
      const sse = readSse(res);
      expect(await sse.next()).not.toBeNull();
      const cut = p.nextLog((l) => l.msg.startsWith("drain timeout reached"), "the drain-timeout line");
      p.signal("SIGTERM");
      await cut;
      await sse.rest();
      expect(sse.data).not.toContain("[DONE]");
      expect(await p.proc.exited).toBe(0);
      await p.waitForLog(isStopped, 'the "stopped" line');
    } finally {
      await p.stop();
      await mock.stop();
    }
  },
  15_000,
);

test(
  "a second SIGTERM stops at once, cutting the stream still in flight; exit 0",
  async () => {
    // drain_timeout far longer than the test's own timeout: only the second signal can end it
    const p = await startProxy({ config: config("10m") });
    try {
      const { sse } = await startStream(p, 1000, 30);
      const shuttingDown = p.nextLog(isShuttingDown, "the shutting-down line");
      p.signal("SIGTERM");
      await shuttingDown;
      const second = p.nextLog((l) => l.msg.startsWith("second signal"), "the second-signal line");
      p.signal("SIGTERM");
      expect((await second).level).toBe("warn");
      await sse.rest();
      expect(sse.data).not.toContain("[DONE]");
      expect(await p.proc.exited).toBe(0);
      await p.waitForLog(isStopped, 'the "stopped" line');
    } finally {
      await p.stop();
    }
  },
  15_000,
);

describe("a stop while the daemon starts", () => {
  test(
    "started by a bench that is already gone (stdin closed before it runs): it stops with exit 0 and its last line says why",
    async () => {
      const dir = tempDir("shutdown-starting");
      const file = join(dir, "llmproxy.yaml");
      writeFileSync(file, "listen: 127.0.0.1:0\nauth: none\ndatabase: ':memory:'\nbackends:\n  - { name: m, provider: mock }\nmodels:\n  - { name: llama, targets: [{ backend: m }] }\n");
      const proc = Bun.spawn(llmproxyCommand(["serve", "-c", file]), {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, [EXIT_WITH_STDIN]: "1" },
      });
      // end-of-file arrives as soon as it reads: during its start-up, before "listening"
      proc.stdin.end();
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(0);
      const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as LogLine);
      expect(lines.at(-1)).toMatchObject({ msg: "stopped", signal: "stdin closed" });
    },
    30_000,
  );
});
