import { describe, expect, test } from "bun:test";
import { CliError, EXIT } from "../../src/cli/exit.ts";
import { durationFlag, listenFlag, wholeNumberFlag } from "../../src/cli/flags.ts";

function usageError(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT.FAILURE);
    expect((err as CliError).message).toBe(message);
    return;
  }
  throw new Error("expected a CliError");
}

describe("command-line values", () => {
  test("durations: a bare 0, and the config's units", () => {
    expect(durationFlag("--delay", "0")).toBe(0);
    expect(durationFlag("--delay", "500ms")).toBe(500);
    expect(durationFlag("--delay", "1.5s")).toBe(1500);
    expect(durationFlag("--delay", "2m")).toBe(120_000);
  });

  test("a duration without a unit or with a typo is a usage error naming the flag", () => {
    usageError(() => durationFlag("--delay", "20"), '--delay: bad duration "20": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s');
    usageError(() => durationFlag("--first-token-delay", "1 s"), '--first-token-delay: bad duration "1 s": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s');
  });

  test("whole numbers", () => {
    expect(wholeNumberFlag("--tokens", "0")).toBe(0);
    usageError(() => wholeNumberFlag("--tokens", "abc"), '--tokens must be a whole number >= 0, got "abc"');
    usageError(() => wholeNumberFlag("--tokens", "1.5"), '--tokens must be a whole number >= 0, got "1.5"');
  });

  test("--listen: host:port, [IPv6]:port, port 0", () => {
    expect(listenFlag("--listen", "127.0.0.1:8000")).toEqual({ host: "127.0.0.1", port: 8000 });
    expect(listenFlag("--listen", "localhost:0")).toEqual({ host: "localhost", port: 0 });
    expect(listenFlag("--listen", "[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    usageError(() => listenFlag("--listen", "8000"), '--listen: bad address "8000": use host:port, e.g. 127.0.0.1:8080 or [::1]:8080');
    usageError(() => listenFlag("--listen", "127.0.0.1:70000"), '--listen: bad address "127.0.0.1:70000": the port must be 0-65535 (0 picks a free port)');
  });
});
