// deploy/llmproxy.service: the directives that make reload, drain and the sandbox work
// must not silently disappear in an edit. (systemd-analyze verify needs systemd and the
// installed executable, so CI checks the file's content instead.)

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import schema from "../../schemas/config.schema.json" with { type: "json" };
import { parseDuration } from "../../src/config/units.ts";
import { CUT_GRACE_MS } from "../../src/daemon/daemon.ts";
import { STOP_WAIT_MS } from "../../src/daemon/metering.ts";

const UNIT = readFileSync(fileURLToPath(new URL("../../deploy/llmproxy.service", import.meta.url)), "utf8");

/** section → key → every value it was given, in order (comments and blank lines skipped). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`unexpected line in the unit: ${line}`);
    const key = line.slice(0, eq);
    const values = current.get(key) ?? [];
    values.push(line.slice(eq + 1));
    current.set(key, values);
  }
  return sections;
}

const unit = parseUnit(UNIT);
const service = unit.get("Service")!;

/** The value systemd uses: the last assignment. */
function get(key: string): string | undefined {
  return service.get(key)?.at(-1);
}

describe("deploy/llmproxy.service", () => {
  test("runs the daemon on the config in the configuration directory", () => {
    expect(get("ExecStart")).toBe("/usr/local/bin/llmproxy serve -c /etc/llmproxy/llmproxy.yaml");
    expect(get("ConfigurationDirectory")).toBe("llmproxy");
    expect(get("EnvironmentFile")).toBe("-/etc/llmproxy/llmproxy.env");
  });

  test("systemctl reload sends SIGHUP, which reloads the config", () => {
    expect(get("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
  });

  test("stops with SIGTERM and waits longer than the default drain, the cut and the last usage writes together", () => {
    expect(get("KillSignal")).toBe("SIGTERM");
    const drainDefault = parseDuration(schema.properties.server.properties.drain_timeout.default)!;
    const stop = parseDuration(get("TimeoutStopSec")!);
    expect(stop).not.toBeNull();
    expect(stop!).toBeGreaterThan(drainDefault + CUT_GRACE_MS + STOP_WAIT_MS);
  });

  test("restarts after a failure, with a pause", () => {
    expect(get("Restart")).toBe("on-failure");
    expect(get("RestartSec")).toBeDefined();
  });

  test("keeps its state in /var/lib/llmproxy", () => {
    expect(get("StateDirectory")).toBe("llmproxy");
  });

  test("is sandboxed", () => {
    const expected: Record<string, string> = {
      DynamicUser: "yes",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectKernelLogs: "yes",
      ProtectControlGroups: "yes",
      ProtectClock: "yes",
      ProtectHostname: "yes",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
      RestrictNamespaces: "yes",
      RestrictRealtime: "yes",
      RestrictSUIDSGID: "yes",
      LockPersonality: "yes",
      SystemCallArchitectures: "native",
      CapabilityBoundingSet: "",
      UMask: "0077",
    };
    for (const [key, value] of Object.entries(expected)) expect({ key, value: get(key) }).toEqual({ key, value });
    expect(service.get("SystemCallFilter")).toContain("@system-service");
  });

  test("leaves MemoryDenyWriteExecute off: Bun's JIT maps memory writable and executable", () => {
    expect(get("MemoryDenyWriteExecute") ?? "no").toBe("no");
  });

  test("allows enough open files for thousands of streams", () => {
    expect(Number(get("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
  });
});
