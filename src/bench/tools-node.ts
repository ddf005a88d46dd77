// llmproxy bench's sockets and child processes under Node (src/edges/node.ts loads this
// when bench runs): node:net and node:tls for the load generator, node:child_process
// for the fake backend and the proxy it starts.

import { spawn as spawnProcess } from "node:child_process";
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import { constants } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { EXIT_WITH_STDIN } from "../cli/exit-with-parent.ts";
import type { BenchChild, BenchSocket, BenchSocketEvents, BenchTools } from "../edges/types.ts";

function connect(to: { host: string; port: number; tls: boolean }, on: BenchSocketEvents): Promise<BenchSocket> {
  return new Promise((resolve, reject) => {
    // No servername for an IP address: RFC 6066 forbids it, and Node warns on stderr
    // (DEP0123) when given one; the certificate is then checked against the IP.
    const socket: Socket = to.tls
      ? tlsConnect({ host: to.host, port: to.port, ...(isIP(to.host) ? {} : { servername: to.host }) })
      : tcpConnect({ host: to.host, port: to.port });
    socket.setNoDelay(true);
    let open = false;
    // over TLS, bytes written before the handshake ends are queued, but a failed
    // handshake must fail the connection, not its first request
    socket.once(to.tls ? "secureConnect" : "connect", () => {
      open = true;
      resolve({ write: (bytes) => void socket.write(bytes), end: () => void socket.end(), terminate: () => void socket.destroy() });
    });
    socket.on("data", (chunk: Buffer) => on.data(chunk));
    socket.on("error", (err) => (open ? on.closed(err) : reject(err)));
    socket.on("close", () => {
      reject(new Error("connection closed"));
      on.closed(new Error("connection closed"));
    });
  });
}

function spawn(argv: readonly string[]): BenchChild {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("spawn: empty command");
  // stdin: a pipe this process holds and never writes, closed by the kernel when it ends
  // (cli/exit-with-parent.ts)
  const child = spawnProcess(file, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, [EXIT_WITH_STDIN]: "1" } });
  // Bun.spawn's convention, which the messages rely on: 128 + the signal's number
  const exited = new Promise<number>((resolve, reject) => {
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    // could not be started (no such file, not executable): 'exit' never comes
    child.on("error", (err) => {
      if (child.pid === undefined) reject(err);
    });
  });
  // awaited by whoever needs it; a start failure must not be an unhandled rejection
  exited.catch(() => {});
  return {
    pid: child.pid ?? 0,
    get exitCode() {
      return child.exitCode;
    },
    get signalCode() {
      return child.signalCode;
    },
    exited,
    stdout: child.stdout!,
    stderr: child.stderr!,
    kill: (signal) => void child.kill(signal),
  };
}

/** Node runs the bundle, dist/llmproxy.mjs: this module is part of it. */
function selfCommand(): string[] {
  return [process.execPath, fileURLToPath(import.meta.url)];
}

export const nodeBenchTools: BenchTools = { connect, spawn, selfCommand };
