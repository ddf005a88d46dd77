// The runtime's sockets and child processes for llmproxy bench (src/edges picks Bun's or
// Node's). Imported statically everywhere: Bun's bundler (--target=node) put second
// copies of modules into the bundle when they were also reached by a dynamic import().

import { edges } from "../edges/edges.ts";

export const tools = edges.benchTools;
