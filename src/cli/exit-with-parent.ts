// The processes `llmproxy bench` starts (the fake backend and the proxy) must not
// outlive it, even when it is killed with SIGKILL and cannot stop them. bench holds the
// write end of each child's stdin and never writes: when bench ends, however it ends,
// the kernel closes that pipe, the child reads end-of-file and stops as on SIGTERM.
// Only with LLMPROXY_EXIT_WITH_STDIN=1 (bench sets it): a daemon run by hand or by
// systemd has a stdin of its own that means nothing of the kind.

/** The variable bench sets for its children. */
export const EXIT_WITH_STDIN = "LLMPROXY_EXIT_WITH_STDIN";

/**
 * Call `stop` (once) when stdin closes, if bench started this process. Called once the
 * command's own SIGTERM handling is in place, `stop` being what that handling does: a
 * bench gone before its child finished starting makes the child stop as soon as it can.
 */
export function exitWhenStdinCloses(stop: () => void): void {
  if (process.env[EXIT_WITH_STDIN] !== "1") return;
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    stop();
  };
  process.stdin.on("end", once);
  process.stdin.on("error", once);
  // nothing is ever sent: whatever arrives is dropped
  process.stdin.on("data", () => {});
  process.stdin.resume();
}
