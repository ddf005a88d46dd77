// Paths into the config, as segments (["backends", 1, "url"]) while checking and as
// text ("backends[1].url") in messages.

export type PathSegment = string | number;
export type ConfigPath = readonly PathSegment[];

/** An issue before it has a position: the locator turns it into a ConfigIssue. */
export interface PendingIssue {
  path: ConfigPath;
  message: string;
  /** Where to point, when not at path itself (an unknown key is reported on its map). */
  locate?: ConfigPath;
  /** Point at the key of the last segment instead of its value (unknown keys). */
  at?: "key" | "value";
  /** A position already known (YAML syntax errors, variable references). */
  offset?: number;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** ["backends", 1, "url"] → "backends[1].url"; odd keys are quoted: headers["x.y"]. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A JSON pointer ("/backends/1/url") as segments; array indexes become numbers. */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const path: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

/** True when path equals prefix or lies under it. */
export function pathStartsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => seg === path[i]);
}
