// `llmproxy mock`: the built-in fake LLM backend on a port, for benchmarks and for trying
// the proxy without a GPU. Prints one line with its URL (scripts and tests parse it),
// logs each request to stderr unless --quiet, and exits 0 on SIGTERM/SIGINT.

import type { Command } from "commander";
import { Logger } from "../log/logger.ts";
import { CliError, EXIT } from "./exit.ts";
import { durationFlag, listenFlag, wholeNumberFlag } from "./flags.ts";
import { exitWhenStdinCloses } from "./exit-with-parent.ts";
import { startMockServer } from "../mock/server.ts";

interface MockCliOptions {
  listen: string;
  tokens: string;
  delay: string;
  firstTokenDelay: string;
  usage: boolean;
  quiet?: boolean;
}

async function runMock(opts: MockCliOptions): Promise<void> {
  const { host: hostname, port } = listenFlag("--listen", opts.listen);
  const tokens = wholeNumberFlag("--tokens", opts.tokens);
  const delayMs = durationFlag("--delay", opts.delay);
  const firstTokenDelayMs = durationFlag("--first-token-delay", opts.firstTokenDelay);

  let server;
  try {
    server = await startMockServer({ hostname, port, tokens, delayMs, firstTokenDelayMs, usage: opts.usage });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === "EADDRINUSE" ? "the address is already in use" : err instanceof Error ? err.message : String(err);
    throw new CliError(`cannot listen on ${opts.listen}: ${why}`);
  }

  if (!opts.quiet) {
    const logger = new Logger({ level: "info", format: "text" });
    server.backend.onRequestEnd((e) => {
      logger.info("mock request", {
        path: e.path,
        status: e.status,
        model: e.model || undefined,
        stream: e.stream,
        prompt_tokens: e.promptTokens,
        completion_tokens: e.completionTokensSent,
        aborted: e.aborted || undefined,
      });
    });
  }

  const running = server;
  const shutdown = (): void => {
    void running.stop().finally(() => process.exit(EXIT.OK));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  // started by `llmproxy bench`: stop when it is gone, however it ended
  exitWhenStdinCloses(shutdown);
  process.stdout.write(`llmproxy mock listening on ${server.url}\n`);
}

export function registerMock(program: Command): void {
  program
    .command("mock")
    .description("run the built-in fake LLM backend (OpenAI and Anthropic wire formats, streaming, faults) for tests and benchmarks")
    .option("--listen <addr>", "HOST:PORT to listen on; port 0 picks a free port", "127.0.0.1:8000")
    .option("--tokens <n>", "completion tokens per answer (a request's max_tokens may cut it)", "16")
    .option("--delay <duration>", "pause between two tokens, e.g. 0, 500ms, 1s", "20ms")
    .option("--first-token-delay <duration>", "pause before the first token", "0")
    .option("--no-usage", "never report token usage (like a backend without usage support)")
    .option("--quiet", "do not log each request to stderr")
    .addHelpText(
      "after",
      `
Per-request headers override the options and inject faults:
  x-mock-tokens, x-mock-delay-ms, x-mock-first-token-delay-ms, x-mock-usage: 0|1,
  x-mock-status: CODE [+ x-mock-retry-after: S], x-mock-hang: headers|body,
  x-mock-hang-after: N, x-mock-drop-after: N, x-mock-gzip: 1, x-mock-echo: 1
GET /mock/stats answers the request counters as JSON; GET /health answers {"status":"ok"}.`,
    )
    .action(runMock);
}
