// Settings Bun reads only when a process starts, for the commands that proxy. They are
// environment variables, so such a command re-executes itself once with them set (unless
// the operator set them already): execve keeps the PID, so systemd, signals and
// supervisors see one process.
//
// - BUN_CONFIG_MAX_HTTP_REQUESTS: Bun caps concurrent outgoing fetches at 256 per process
//   unless it is set at start (later has no effect; ../shared/PLATFORM-NOTES.md). A
//   gateway holding 1000+ streams needs more.
// - BUN_JSC_largeHeapSize: JavaScriptCore lets a VM allocate at least this much between
//   two collections, 32 MB by default (sized for browser pages with big heaps), and the
//   event loop and the metering worker are each a VM. The daemon's live heap is ~6 MB,
//   but at 16k req/s each VM's heap filled up to its 32 MB floor before a collection, and
//   freed pages went back to the OS late: RSS under load was ~110 MB. See START_HEAP_BYTES.

const FETCH_CAP_VAR = "BUN_CONFIG_MAX_HTTP_REQUESTS";
/** Bun accepts 1..65535; the gateway bounds concurrency itself (limits, max_inflight). */
export const FETCH_CAP = "65535";

const HEAP_VAR = "BUN_JSC_largeHeapSize";
/**
 * Bytes a VM may allocate between two collections. Measured with wrk at ~16k req/s
 * (peak anonymous memory; CPU per request unchanged within noise): 32 MB (JSC's
 * default) 108 MB, 8 MB 80 MB, 4 MB 71 MB.
 */
export const START_HEAP_BYTES = String(4 * 1024 * 1024);

/** The variables a proxying process starts with: the operator's own values win. */
export function startEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const missing: Record<string, string> = {};
  if (!env[FETCH_CAP_VAR]) missing[FETCH_CAP_VAR] = FETCH_CAP;
  if (!env[HEAP_VAR]) missing[HEAP_VAR] = START_HEAP_BYTES;
  return missing;
}

/**
 * The argv that starts this same command again. In a `bun build --compile` executable
 * argv[1] is the embedded entry (/$bunfs/...), and execArgv holds the flags built into it
 * (--compile-exec-argv): the executable adds both again by itself, so passing them would
 * make them arguments of the command. Under `bun`, runtime flags (--smol, --cpu-prof,
 * ...) are in execArgv, not argv: they are kept.
 */
export function reexecArgv(execPath: string, argv: readonly string[], execArgv: readonly string[]): string[] {
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  return compiled ? [execPath, ...argv.slice(2)] : [execPath, ...execArgv, ...argv.slice(1)];
}

export function ensureStartEnv(): void {
  const missing = startEnv(process.env);
  if (Object.keys(missing).length === 0) return;
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string | undefined>) => never }).execve;
  if (!execve) return;
  execve(process.execPath, reexecArgv(process.execPath, process.argv, process.execArgv), { ...process.env, ...missing });
}
