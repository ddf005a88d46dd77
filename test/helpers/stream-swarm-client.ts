// A child process that opens many streams at once with plain fetch and reports what
// each got, as JSON on stdout. It runs apart from the test runner because Bun caps a
// process's concurrent fetches at 256 unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when
// the process starts (../shared/PLATFORM-NOTES.md); swarm.ts starts it with the cap lifted.
//
// argv[2]: a SwarmJob as JSON.

import type { SwarmJob, SwarmResult } from "./swarm.ts";
import { streamedText } from "./sse.ts";

const job = JSON.parse(process.argv[2]!) as SwarmJob;

async function one(i: number): Promise<SwarmResult> {
  const id = `${job.idPrefix}${i}`;
  try {
    const res = await fetch(job.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id, ...job.headers },
      body: job.body,
      // a bound, not a pause: a stream that never ends fails the run instead of hanging it
      signal: AbortSignal.timeout(job.timeoutMs),
    });
    const raw = await res.text();
    return { id, status: res.status, text: streamedText(raw), done: raw.endsWith("data: [DONE]\n\n"), usageSeen: raw.includes('"usage"'), error: null };
  } catch (err) {
    return { id, status: 0, text: "", done: false, usageSeen: false, error: String(err) };
  }
}

const results = await Promise.all(Array.from({ length: job.count }, (_, i) => one(i)));
process.stdout.write(JSON.stringify(results));
