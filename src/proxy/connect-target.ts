// Where a TCP connect probe goes for a backend URL (both upstream client edges use it).

export interface ConnectTarget {
  host: string;
  port: number;
}

/** host (IPv6 without brackets) and port of an http(s) URL; null when it does not parse. */
export function connectTarget(url: string): ConnectTarget | null {
  try {
    const u = new URL(url);
    const tls = u.protocol === "https:";
    return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : tls ? 443 : 80 };
  } catch {
    return null;
  }
}
