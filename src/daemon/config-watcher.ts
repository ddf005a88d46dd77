// Tells when the config file may have changed: an edit in place, or a save by rename
// (vim, emacs and most editors write a new file and rename it over the old one, which a
// watch on the file itself would lose). It only signals; the reloader decides.

import { resolve } from "node:path";
import chokidar, { type FSWatcher } from "chokidar";

/** Editors write in several steps; one reload after the burst is enough. */
const SETTLE_MS = 50;

export interface ConfigWatcher {
  /**
   * Resolves once the watch is in place (chokidar's "ready"): a change made before then
   * is not seen. chokidar sets its watches asynchronously, so the daemon awaits this
   * before it announces "listening"; an edit made right after that must not be lost.
   */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchConfig(file: string, onChange: (why: string) => void, onError: (err: unknown) => void): ConfigWatcher {
  const path = resolve(file);
  let timer: ReturnType<typeof setTimeout> | null = null;
  const fire = (why: string) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange(why);
    }, SETTLE_MS);
  };
  // chokidar follows the path, not the inode, so a rename-save (a new file under the
  // old name) is seen too ("atomic" mode turns unlink+add into change). Watching the
  // file rather than its directory keeps memory flat however many files sit beside it
  // (measured: the directory watch cost ~10 MB in a directory of 40 files).
  const watcher: FSWatcher = chokidar.watch(path, { ignoreInitial: true, atomic: true });
  // Resolves on an error too: a daemon that cannot watch still serves (SIGHUP and
  // POST /admin/reload still reload). Without a listener, an "error" event would throw.
  const ready = new Promise<void>((resolveReady) => {
    watcher.once("ready", () => resolveReady());
    watcher.on("error", (err) => {
      onError(err);
      resolveReady();
    });
  });
  watcher.on("all", (event, p) => {
    if (resolve(p) !== path) return;
    if (event === "add" || event === "change") fire(`file ${event}`);
  });
  return {
    ready,
    async close() {
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
