// `llmproxy serve --demo` (what `npm start` runs) as a real process: the banner on
// stdout, the official openai client against it, the printed curl line run as printed,
// and the executable alone in an empty directory. With LLMPROXY_BIN set, this runs
// against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import OpenAI from "openai";
import { DEMO_MODEL } from "../../src/daemon/demo-config.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startDemo, tempDir, type DemoProcess } from "../helpers/daemon.ts";

/** The demo's mock answers 24 tokens (src/daemon/demo-config.ts). */
const DEMO_TOKENS = 24;
const HELLO = [{ role: "user" as const, content: "Hello!" }];

describe("llmproxy serve --demo", () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemo();
  });
  afterAll(async () => {
    expect(await demo.stop()).toBe(0);
  });

  test("prints the URL it listens on and a ready-to-paste curl line on stdout", () => {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.url).not.toEndWith(":0");
    expect(demo.curlLine).toStartWith(`curl ${demo.url}/v1/chat/completions `);
    expect(demo.stdout()).toContain(`${demo.url}/v1`);
  });

  test("the official openai client chats with it", async () => {
    const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: "anything", maxRetries: 0 });
    const res = await client.chat.completions.create({ model: DEMO_MODEL, messages: HELLO });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(DEMO_TOKENS));
    expect(res.usage?.completion_tokens).toBe(DEMO_TOKENS);
  });

  test("the official openai client streams from it", async () => {
    const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: "anything", maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: DEMO_MODEL, messages: HELLO, stream: true });
    let text = "";
    let chunks = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(mockCompletionText(DEMO_TOKENS));
    expect(chunks).toBeGreaterThan(1);
    expect(finish).toBe("stop");
  });

  test("any model name works in the demo (the catch-all route)", async () => {
    const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: "anything", maxRetries: 0 });
    const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(DEMO_TOKENS));
  });

  test("the printed curl line works as printed", async () => {
    const proc = Bun.spawn(["sh", "-c", demo.curlLine], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    const body = JSON.parse(stdout) as { object: string; choices: { message: { content: string } }[] };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]!.message.content).toBe(mockCompletionText(DEMO_TOKENS));
  });
});

describe("the executable alone", () => {
  test(
    `runs the demo from an empty directory with nothing beside it (${process.env.LLMPROXY_BIN ? "compiled binary" : "sources"})`,
    async () => {
      const dir = tempDir("empty");
      try {
        const demo = await startDemo({ cwd: dir });
        try {
          const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: "anything", maxRetries: 0 });
          const res = await client.chat.completions.create({ model: DEMO_MODEL, messages: HELLO });
          expect(res.choices[0]!.message.content).toBe(mockCompletionText(DEMO_TOKENS));
          const stream = await client.chat.completions.create({ model: DEMO_MODEL, messages: HELLO, stream: true });
          let text = "";
          for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
          expect(text).toBe(mockCompletionText(DEMO_TOKENS));
        } finally {
          expect(await demo.stop()).toBe(0);
        }
        // the demo writes nothing where it runs (no database, no config)
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    15_000,
  );
});
