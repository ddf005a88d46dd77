// `llmproxy bench`'s flags: the defaults, each bad value refused with exit 1 and a message
// naming the flag, and a flag of the other mode refused with exit 2.

import { describe, expect, test } from "bun:test";
import { benchOptions, type BenchFlags } from "../../src/cli/bench-flags.ts";
import { CliError, EXIT } from "../../src/cli/exit.ts";
import { makePlan } from "../../src/bench/plan.ts";

function refused(flags: BenchFlags, code: number): string {
  try {
    benchOptions(flags);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(code as typeof EXIT.FAILURE);
    return (err as CliError).message;
  }
  throw new Error(`expected ${JSON.stringify(flags)} to be refused`);
}

describe("llmproxy bench flags", () => {
  test("no flags: the local benchmark, 5 s per phase, the phase sizes of the README", () => {
    expect(benchOptions({ webhook: true })).toEqual({
      durationMs: 5000,
      concurrency: 64,
      rate: 2000,
      streams: 64,
      openStreams: 1000,
      model: "bench",
      stream: false,
      json: false,
      mode: { kind: "local", backends: 1, strategy: "round_robin", keys: 0, webhook: true, bin: null },
    });
  });

  test("--stream: the requests/s and latency phases send streamed requests", () => {
    expect(benchOptions({ webhook: true, stream: true }).stream).toBe(true);
    const plain = JSON.parse(makePlan({ ...benchOptions({ webhook: true }) }).chatBody) as { stream?: boolean };
    const streamed = JSON.parse(makePlan({ ...benchOptions({ webhook: true, stream: true }) }).chatBody) as { stream?: boolean };
    expect([plain.stream, streamed.stream]).toEqual([undefined, true]);
  });

  test("every size can be set; --no-webhook leaves the webhook out", () => {
    const o = benchOptions({ duration: "200ms", concurrency: "8", rate: "300", streams: "4", openStreams: "200", backends: "3", strategy: "least_inflight", keys: "10", webhook: false, json: true });
    expect(o).toMatchObject({ durationMs: 200, concurrency: 8, rate: 300, streams: 4, openStreams: 200, json: true });
    expect(o.mode).toEqual({ kind: "local", backends: 3, strategy: "least_inflight", keys: 10, webhook: false, bin: null });
  });

  test("--target: the URL without a trailing slash, the key kept for the requests only", () => {
    const o = benchOptions({ target: "http://10.0.0.5:8080/", key: "sk-secret-value", model: "llama", direct: "http://10.0.0.6:8000", pid: "4242" });
    expect(o.model).toBe("llama");
    expect(o.mode).toEqual({ kind: "target", target: "http://10.0.0.5:8080", key: "sk-secret-value", direct: "http://10.0.0.6:8000", pid: 4242 });
  });

  test("a value that does not parse or is out of range: exit 1, the flag named", () => {
    expect(refused({ duration: "nope" }, EXIT.FAILURE)).toStartWith("--duration: bad duration \"nope\"");
    expect(refused({ duration: "10ms" }, EXIT.FAILURE)).toBe('--duration must be between 50ms and 10m per phase, got "10ms"');
    expect(refused({ concurrency: "0" }, EXIT.FAILURE)).toBe('--concurrency must be 1..10000, got "0"');
    expect(refused({ rate: "fast" }, EXIT.FAILURE)).toBe('--rate must be a whole number >= 0, got "fast"');
    expect(refused({ streams: "100000" }, EXIT.FAILURE)).toBe('--streams must be 1..10000, got "100000"');
    expect(refused({ openStreams: "0" }, EXIT.FAILURE)).toBe('--open-streams must be 1..10000, got "0"');
    expect(refused({ backends: "17" }, EXIT.FAILURE)).toBe('--backends must be 1..16, got "17"');
    expect(refused({ strategy: "fastest" }, EXIT.FAILURE)).toBe('--strategy: unknown strategy "fastest"; one of round_robin, weighted, least_inflight, latency, priority');
    expect(refused({ model: " " }, EXIT.FAILURE)).toBe("--model needs a model name");
    expect(refused({ target: "localhost:8080" }, EXIT.FAILURE)).toBe('--target: "localhost:8080" is not an http(s) URL');
    expect(refused({ target: "not a url" }, EXIT.FAILURE)).toBe('--target: bad URL "not a url": give http(s)://HOST[:PORT][/PATH]');
    expect(refused({ target: "http://x", pid: "0" }, EXIT.FAILURE)).toBe('--pid must be 1..4194304, got "0"');
  });

  test("credentials in the URL are refused without repeating them", () => {
    const message = refused({ target: "http://user:sk-in-url@10.0.0.5:8080" }, EXIT.FAILURE);
    expect(message).toBe("--target: put no credentials in the URL; pass the key with --key");
  });

  test("an empty --key is refused, and no message ever holds the key", () => {
    expect(refused({ target: "http://x", key: "  " }, EXIT.FAILURE)).toBe("--key is empty");
    expect(refused({ target: "http://x", key: "sk-secret-value", concurrency: "0" }, EXIT.FAILURE)).not.toContain("sk-secret-value");
  });

  test("a flag of the other mode: exit 2", () => {
    expect(refused({ target: "http://x", backends: "2" }, EXIT.USAGE)).toBe("--backends applies when bench starts its own proxy; with --target nothing is started");
    expect(refused({ target: "http://x", webhook: false }, EXIT.USAGE)).toStartWith("--no-webhook applies");
    expect(refused({ target: "http://x", bin: "dist/llmproxy" }, EXIT.USAGE)).toStartWith("--bin applies");
    expect(refused({ key: "sk-secret-value" }, EXIT.USAGE)).toBe("--key needs --target URL (without it, bench starts its own proxy and backend)");
    expect(refused({ direct: "http://x" }, EXIT.USAGE)).toStartWith("--direct needs --target");
    expect(refused({ pid: "1" }, EXIT.USAGE)).toStartWith("--pid needs --target");
  });
});
