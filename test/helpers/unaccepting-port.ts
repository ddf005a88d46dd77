// A TCP port on 127.0.0.1 that listens but never completes a connection: the way to
// test a connect timeout without any other host. A Python socket listens with a backlog
// of 0 and fills its accept queue with a few non-blocking connects of its own; with the
// queue full Linux drops further SYNs (tcp_abort_on_overflow=0), so a client's connect
// neither succeeds nor fails until it gives up.

const SCRIPT = `
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fill = []
for _ in range(8):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
print(port, flush=True)
sys.stdin.read()
`;

export interface UnacceptingPort {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startUnacceptingPort(): Promise<UnacceptingPort> {
  const proc = Bun.spawn(["python3", "-c", SCRIPT], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`python3 exited before printing its port (exit ${await proc.exited})`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      // closing stdin ends sys.stdin.read(): the script exits and its sockets close
      proc.stdin.end();
      await proc.exited;
    },
  };
}
