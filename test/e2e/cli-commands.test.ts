// The command line as a contract: version, --help on every command, exit 2 on a bad
// command line, and how errors are printed (one `llmproxy: <message>` line on stderr, a
// stack trace only under --debug). With LLMPROXY_BIN set, this runs against the compiled
// executable or the Node bundle.

import { describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { runCli } from "../helpers/daemon.ts";
import { runtimeUnderTest } from "../helpers/spawn.ts";

const STACK_FRAME = /^\s+at /m;

describe("llmproxy version", () => {
  test("prints the version, the runtime and the platform (exit 0)", async () => {
    const r = await runCli(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`llmproxy ${pkg.version} (${runtimeUnderTest()}, ${process.platform}-${process.arch})\n`);
    expect(r.stderr).toBe("");
  });

  test("--json prints one JSON document", async () => {
    const r = await runCli(["version", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ version: pkg.version, runtime: runtimeUnderTest(), platform: `${process.platform}-${process.arch}` });
  });

  test("--version prints the bare version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });
});

describe("--help", () => {
  // Each command's help names its options.
  const HELP: Record<string, string[]> = {
    "": ["serve", "validate", "mock", "version", "--debug", "--version", "Exit codes"],
    serve: ["--config <file>", "--demo", "--listen <addr>", "LLMPROXY_CONFIG"],
    validate: ["--json", "--quiet", "[files...]", "Exit codes"],
    mock: ["--listen <addr>", "--tokens <n>", "--delay <duration>", "--first-token-delay <duration>", "--no-usage", "--quiet", "x-mock-"],
    version: ["--json"],
  };
  for (const [command, mentions] of Object.entries(HELP)) {
    test(`llmproxy ${command ? command + " " : ""}--help exits 0 and mentions ${mentions.join(", ")}`, async () => {
      const r = await runCli(command ? [command, "--help"] : ["--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`Usage: llmproxy${command ? " " + command : ""} `);
      for (const m of mentions) expect(r.stdout).toContain(m);
      expect(r.stderr).toBe("");
    });
  }

  test("llmproxy help serve is the same as llmproxy serve --help", async () => {
    const [a, b] = await Promise.all([runCli(["help", "serve"]), runCli(["serve", "--help"])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });
});

describe("a bad command line exits 2", () => {
  const CASES: [string, string[], string][] = [
    ["an unknown command", ["frobnicate"], "frobnicate"],
    ["an unknown global option", ["--frobnicate"], "--frobnicate"],
    ["an unknown option of serve", ["serve", "--frobnicate"], "--frobnicate"],
    ["an unknown option of validate", ["validate", "--frobnicate"], "--frobnicate"],
    ["an unknown option of mock", ["mock", "--frobnicate"], "--frobnicate"],
    ["an unknown option of version", ["version", "--frobnicate"], "--frobnicate"],
    ["an argument serve does not take", ["serve", "extra"], "too many arguments"],
    ["an option without its value", ["serve", "-c"], "-c"],
  ];
  for (const [what, args, named] of CASES) {
    test(`${what} (llmproxy ${args.join(" ")}): exit 2, the problem on stderr, nothing on stdout`, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(named);
      expect(r.stderr).not.toMatch(STACK_FRAME);
    });
  }
});

describe("errors on stderr", () => {
  // A missing config file is a CliError raised deep in the daemon's start: the path every
  // operator error takes to the top.
  const MISSING = "/nonexistent-llmproxy-dir/llmproxy.yaml";

  test("an error is one `llmproxy: <message>` line, without a stack trace", async () => {
    const r = await runCli(["serve", "-c", MISSING]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`llmproxy: cannot read ${MISSING}: no such file\n`);
    expect(r.stdout).toBe("");
  });

  for (const args of [
    ["--debug", "serve", "-c", MISSING],
    ["serve", "-c", MISSING, "--debug"],
  ]) {
    test(`--debug keeps the same first line and exit code, and adds the stack trace (llmproxy ${args.join(" ")})`, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      const [first, ...rest] = r.stderr.split("\n");
      expect(first).toBe(`llmproxy: cannot read ${MISSING}: no such file`);
      expect(rest.join("\n")).toMatch(STACK_FRAME);
    });
  }
});
