// An issue as one line, the way compilers print them, so editors and terminals can jump
// to it: "llmproxy.yaml:14:7: backends[1].url: must be an http(s) URL, got "localhost:8000"".

import type { ConfigIssue } from "./types.ts";

export function formatIssue(file: string | null, issue: ConfigIssue): string {
  const where = [file ?? "<config>", issue.line, issue.col].filter((x) => x !== undefined).join(":");
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Issues in file order; those without a position (e.g. "config is empty") come first. */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || (a.issue.col ?? 0) - (b.issue.col ?? 0) || a.i - b.i)
    .map((x) => x.issue);
}
