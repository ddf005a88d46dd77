// How the proxy calls backends: the upstream client edge of the running runtime
// (upstream-bun.ts or upstream-node.ts, picked in src/edges).

import { edges } from "../edges/edges.ts";

export type { ConnectProbe, FetchFn } from "../edges/types.ts";

/** POST a JSON body upstream. */
export const upstreamFetch = edges.upstreamFetch;
/** Try a TCP connection to the backend's host:port within `timeoutMs`. */
export const probeConnect = edges.probeConnect;
