#!/usr/bin/env bun
// The llmproxy executable: the CLI and the daemon. Everything lives in src/cli.
import { main } from "../src/cli/main.ts";

await main(process.argv);
