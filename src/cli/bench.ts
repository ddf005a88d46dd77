// `llmproxy bench`: the built-in benchmark. Without --target it starts the fake backend
// and a proxy as child processes of this executable and measures the same load sent to
// the backend directly and through the proxy; with --target it measures an existing
// deployment. The measuring code is loaded only when the command runs.

import type { Command } from "commander";
import { DEFAULTS, benchOptions, type BenchFlags } from "./bench-flags.ts";
import { runBench } from "./bench-run.ts";

const HELP = `
Phases, each run against the backend directly, then through the proxy:
  1. requests/s at --concurrency connections (closed loop)
  2. latency p50/p99 at --rate requests/s (open loop: measured from each request's
     scheduled start, so queueing shows)
  3. streams: TTFT p50/p99 and the longest inter-chunk gap over --streams clients
     running streams back to back, then --streams streams started at once
  4. --open-streams streams held open at once: all complete? TTFT p99
and the proxy's CPU time per plain request and resident memory (idle, after warm-up,
with the open streams, peak), read from /proc.

Without --target: llmproxy mock and llmproxy serve run as child processes on free
127.0.0.1 ports, metering on as in production (usage records to a SQLite file in a
temp dir, and to a webhook receiver in this process unless --no-webhook). They are
stopped, and the temp dir removed, when bench ends, fails or is interrupted.

With --target URL: nothing is started; the target is measured as "through proxy",
with the model of --model and the key of --key (sent as a bearer token, never
printed). --direct URL measures the backend behind it too; --pid PID (a process on
this machine) adds its CPU time and memory. A target that cannot be reached, or that
answers the first request with an error, stops bench at once (exit 1).

Examples:
  llmproxy bench
  llmproxy bench --duration 10s --json > bench.json
  llmproxy bench --backends 4 --strategy least_inflight --keys 10000
  llmproxy bench --target http://127.0.0.1:8080 --key sk-llmp-... --model llama-3-8b \\
                 --direct http://127.0.0.1:8000 --pid $(pidof llmproxy)

Exit 0 when every request succeeded; 1 when a request failed (the results are still
printed), a target failed its first request, or a flag value is invalid.`;

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("measure the proxy: the same load direct and through the proxy (a local one it starts, or --target)")
    .option("--duration <duration>", `length of each phase (default: ${DEFAULTS.duration})`)
    .option("--concurrency <n>", `connections of the requests/s phase (default: ${DEFAULTS.concurrency})`)
    .option("--rate <n>", `requests/s offered in the latency phase (default: ${DEFAULTS.rate})`)
    .option("--streams <n>", `stream clients in the stream phases (default: ${DEFAULTS.streams})`)
    .option("--open-streams <n>", `streams held open at once in the last phase (default: ${DEFAULTS.openStreams})`)
    .option("--model <name>", `model name in the requests (default: ${DEFAULTS.model})`)
    .option("--json", "print the results as one JSON object on stdout (no progress line)")
    .option("--stream", "the requests/s and latency phases send streamed requests too (the stream phases always do)")
    .option("--backends <n>", `local: fake backends behind the proxy, 1..16 (default: ${DEFAULTS.backends})`)
    .option("--strategy <name>", `local: the route's strategy over them (default: ${DEFAULTS.strategy})`)
    .option("--keys <n>", "local: keys in the store; requests then carry one and limits are checked (default: 0, auth: none)")
    .option("--no-webhook", "local: usage records to the database only, no webhook")
    .option("--bin <path>", "local: start the backend and proxy from this llmproxy executable (default: this one)")
    .option("--target <url>", "measure this deployment instead of starting one")
    .option("--key <key>", "with --target: the API key to send")
    .option("--direct <url>", "with --target: the backend behind it, measured directly for comparison")
    .option("--pid <pid>", "with --target: the target's process on this machine, for CPU time and memory")
    .addHelpText("after", HELP)
    .action(async (flags: BenchFlags) => {
      const options = benchOptions(flags);
      await runBench(options);
    });
}
