// `llmproxy mock` as an operator runs it: a process that prints its URL, serves, logs,
// and exits 0 on SIGTERM; bad flags exit 1 with a message that says what to fix.

import { describe, expect, test } from "bun:test";
import { startMockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";

type Proc = ReturnType<typeof spawnMock>;

function spawnMock(args: string[]) {
  return Bun.spawn(llmproxyCommand(["mock", ...args]), { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
}

/** The first line the process prints on stdout (fails with its stderr if it exits first). */
async function firstLine(proc: Proc): Promise<string> {
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const nl = buf.indexOf("\n");
    if (nl >= 0) {
      reader.releaseLock();
      return buf.slice(0, nl);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`llmproxy mock exited before printing its URL: ${await new Response(proc.stderr).text()}`);
    buf += dec.decode(value, { stream: true });
  }
}

async function chat(url: string): Promise<{ choices: { message: { content: string } }[]; usage?: unknown }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { choices: { message: { content: string } }[]; usage?: unknown };
}

describe("llmproxy mock", () => {
  test("prints its URL on one line, answers with the configured tokens, logs the request and exits 0 on SIGTERM", async () => {
    const proc = spawnMock(["--listen", "127.0.0.1:0", "--tokens", "3", "--delay", "0"]);
    try {
      const line = await firstLine(proc);
      const m = /^llmproxy mock listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      expect(m).not.toBeNull();
      const url = (m as RegExpExecArray)[1] as string;
      expect(Number((m as RegExpExecArray)[2])).toBeGreaterThan(0);
      const body = await chat(url);
      expect(body.choices[0]?.message.content).toBe(mockCompletionText(3));
      expect(body.usage).toBeDefined();
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(await new Response(proc.stderr).text()).toContain("mock request path=/v1/chat/completions status=200");
    } finally {
      proc.kill();
    }
  });

  test("--no-usage leaves usage out; --quiet logs nothing; SIGINT also exits 0", async () => {
    const proc = spawnMock(["--listen", "127.0.0.1:0", "--tokens", "2", "--delay", "0", "--no-usage", "--quiet"]);
    try {
      const url = (await firstLine(proc)).replace("llmproxy mock listening on ", "");
      const body = await chat(url);
      expect(body.choices[0]?.message.content).toBe(mockCompletionText(2));
      expect(body.usage).toBeUndefined();
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(0);
      expect(await new Response(proc.stderr).text()).toBe("");
    } finally {
      proc.kill();
    }
  });

  test.each([
    [["--tokens", "abc"], 'llmproxy: --tokens must be a whole number >= 0, got "abc"'],
    [["--delay", "20"], 'llmproxy: --delay: bad duration "20": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s'],
    [["--first-token-delay", "soon"], 'llmproxy: --first-token-delay: bad duration "soon"'],
    [["--listen", "nowhere"], 'llmproxy: --listen: bad address "nowhere": use host:port'],
  ])("%p is refused with exit code 1 (an invalid value) and a precise message", async (args, message) => {
    const proc = spawnMock(["--listen", "127.0.0.1:0", ...args]);
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toStartWith(message);
  });

  test("a port already in use is refused with exit code 1, naming the address", async () => {
    const taken = await startMockServer({});
    try {
      const proc = spawnMock(["--listen", `127.0.0.1:${taken.port}`]);
      expect(await proc.exited).toBe(1);
      expect(await new Response(proc.stderr).text()).toBe(`llmproxy: cannot listen on 127.0.0.1:${taken.port}: the address is already in use\n`);
    } finally {
      await taken.stop();
    }
  });
});
