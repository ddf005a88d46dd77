// Ports on 127.0.0.1 that refuse connections and stay refused while the test runs.
// A port freed by a stopped server is not enough: with other tests binding port 0 at
// the same time, the kernel may hand it to one of their servers, and the "dead" backend
// answers 200. Here a Python process holds each port with a socket that is bound but
// never listens (a connection gets a RST, ECONNREFUSED) and that nobody else can bind.
// The socket sets SO_REUSEPORT, so a test's own server may listen on the same port
// (Bun.serve with reusePort: true) and, when stopped, leave it refusing again: a
// backend that can be killed without giving its port away.

const SCRIPT = `
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
sys.stdin.read()
`;

export interface RefusingPorts {
  ports: number[];
  /** http://127.0.0.1:PORT for each port. */
  urls: string[];
  /** Release the ports. */
  stop(): Promise<void>;
}

export async function holdRefusingPorts(n: number): Promise<RefusingPorts> {
  const proc = Bun.spawn(["python3", "-c", SCRIPT, String(n)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`python3 exited before printing its ports (exit ${await proc.exited})`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ports = text.trim().split(" ").map(Number);
  return {
    ports,
    urls: ports.map((p) => `http://127.0.0.1:${p}`),
    async stop() {
      // closing stdin ends sys.stdin.read(): the script exits and its sockets close
      proc.stdin.end();
      await proc.exited;
    },
  };
}
