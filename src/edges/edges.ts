// The one place where llmproxy picks its runtime edges: Bun's (the executable, the
// sources under `bun`) or Node's (dist/llmproxy.mjs, issue 10). "#runtime-edges" is a
// conditional import in package.json: bun.ts where the "bun" condition holds (Bun
// itself, `bun build --target=bun`), node.ts elsewhere (Node, `--target=node`). So each
// build holds only its own side: the executable has no undici, the Node bundle no
// bun:sqlite, and nothing is decided at run time.

import { runtimeEdges } from "#runtime-edges";
import type { Edges } from "./types.ts";

export type * from "./types.ts";

export const edges: Edges = runtimeEdges;
