// Bun caps concurrent outgoing fetches at 256 per process unless
// BUN_CONFIG_MAX_HTTP_REQUESTS is set when the process starts (setting it later has no
// effect; see ../shared/PLATFORM-NOTES.md). A gateway holding 1000+ streams needs more,
// so the commands that proxy re-exec themselves once with the variable set. execve keeps
// the PID, so systemd, signals and supervisors see one process.

const VAR = "BUN_CONFIG_MAX_HTTP_REQUESTS";
/** Bun accepts 1..65535; the gateway bounds concurrency itself (limits, max_inflight). */
export const FETCH_CAP = "65535";

export function ensureFetchCap(): void {
  if (process.env[VAR]) return;
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string | undefined>) => never }).execve;
  if (!execve) return;
  // In a `bun build --compile` executable argv[1] is the embedded entry (/$bunfs/...),
  // which the executable adds again by itself.
  const compiled = process.argv[1]?.startsWith("/$bunfs/") ?? false;
  const args = compiled ? process.argv.slice(2) : process.argv.slice(1);
  // runtime flags (bun --smol, --cpu-prof, ...) are in execArgv, not argv: keep them
  execve(process.execPath, [process.execPath, ...process.execArgv, ...args], { ...process.env, [VAR]: FETCH_CAP });
}
