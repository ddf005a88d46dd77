// llmproxy bench's sockets and child processes under Bun (src/edges/bun.ts loads this
// when bench runs). Bun.connect is kept for the load generator: on a 2-core machine
// every µs it spends is taken from the proxy it measures, and node:net under Bun costs
// ~1 µs more per request (14.4 against 13.5 µs, closed loop of 64 connections).

import { fileURLToPath } from "node:url";
import { EXIT_WITH_STDIN } from "../cli/exit-with-parent.ts";
import type { BenchChild, BenchSocket, BenchSocketEvents, BenchTools } from "../edges/types.ts";

async function connect(to: { host: string; port: number; tls: boolean }, on: BenchSocketEvents): Promise<BenchSocket> {
  // Over TLS the socket opens before the handshake, and bytes written before it ends
  // are lost: the connection is ready once the handshake succeeded.
  let shaken: (err: Error | null) => void = () => {};
  const handshake = to.tls ? new Promise<void>((resolve, reject) => (shaken = (err) => (err ? reject(err) : resolve()))) : null;
  // a connection that fails to open rejects it with nobody awaiting it
  handshake?.catch(() => {});
  const socket = await Bun.connect({
    hostname: to.host,
    port: to.port,
    ...(to.tls ? { tls: { serverName: to.host } } : {}),
    socket: {
      data: (_s, data) => on.data(data),
      handshake: (_s, ok, err) => shaken(ok ? null : new Error(`TLS handshake failed: ${(err as { code?: string } | null)?.code ?? err?.message ?? "unknown"}`)),
      close: () => {
        shaken(new Error("connection closed"));
        on.closed(new Error("connection closed"));
      },
      error: (_s, e) => {
        shaken(e);
        on.closed(e);
      },
    },
  });
  socket.setNoDelay(true);
  if (handshake) {
    try {
      await handshake;
    } catch (err) {
      socket.terminate();
      throw err;
    }
  }
  // Bun's socket is a BenchSocket as it is: no wrapper on the write path
  return socket;
}

function spawn(argv: readonly string[]): BenchChild {
  // stdin: a pipe this process holds and never writes, closed by the kernel when it ends
  // (cli/exit-with-parent.ts); the Subprocess keeps its write end
  return Bun.spawn([...argv], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, [EXIT_WITH_STDIN]: "1" } });
}

/**
 * Inside the compiled executable, the executable itself (its bundled modules live under
 * /$bunfs/, as src/edges/bun.ts checks); from the sources, this runtime and
 * cmd/llmproxy.ts.
 */
function selfCommand(): string[] {
  if (import.meta.url.includes("/$bunfs/")) return [process.execPath];
  return [process.execPath, fileURLToPath(new URL("../../cmd/llmproxy.ts", import.meta.url))];
}

export const bunBenchTools: BenchTools = { connect, spawn, selfCommand };
