import type { Command } from "commander";
import { formatIssue } from "../config/format.ts";
import { ConfigReadError, loadConfigFile } from "../config/load.ts";
import type { ConfigIssue } from "../config/types.ts";
import { EXIT } from "./exit.ts";
import type { ExitCode } from "./exit.ts";

const HELP = `
Prints "FILE: ok" on stdout for each valid file, and each problem of an invalid one on
stderr as FILE:LINE:COL: PATH: MESSAGE. All files are checked and all problems reported.

--json prints one document on stdout instead:
  {"valid": bool, "files": [{"file", "valid", "error"?, "issues": [{"path", "message", "line", "col"}]}]}
("error" says why a file could not be read; line and col are null when unknown).

Exit codes:
  0  every file is valid
  1  at least one file is invalid (and every file could be read)
  2  at least one file cannot be read (this wins over 1), or a bad command line
`;

interface FileReport {
  file: string;
  valid: boolean;
  error?: string;
  issues: ConfigIssue[];
}

export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  return env.LLMPROXY_CONFIG || "llmproxy.yaml";
}

async function check(file: string): Promise<FileReport> {
  try {
    const r = await loadConfigFile(file);
    return r.ok ? { file, valid: true, issues: [] } : { file, valid: false, issues: r.issues };
  } catch (err) {
    if (err instanceof ConfigReadError) return { file, valid: false, error: err.message, issues: [] };
    throw err;
  }
}

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check config files: every problem, with its file:line:col")
    .argument("[files...]", "config files (default: $LLMPROXY_CONFIG or ./llmproxy.yaml)")
    .option("--json", "print the result as one JSON document on stdout")
    .option("-q, --quiet", "print nothing for valid files")
    .addHelpText("after", HELP)
    .action(async (files: string[], opts: { json?: boolean; quiet?: boolean }) => {
      const names = files.length > 0 ? files : [defaultConfigPath()];
      const reports: FileReport[] = [];
      for (const file of names) reports.push(await check(file));

      if (opts.json) {
        const doc = {
          valid: reports.every((r) => r.valid),
          files: reports.map((r) => ({
            file: r.file,
            valid: r.valid,
            ...(r.error !== undefined ? { error: r.error } : {}),
            issues: r.issues.map((i) => ({ path: i.path, message: i.message, line: i.line ?? null, col: i.col ?? null })),
          })),
        };
        process.stdout.write(JSON.stringify(doc) + "\n");
      } else {
        for (const r of reports) {
          if (r.error !== undefined) process.stderr.write(`llmproxy: ${r.error}\n`);
          else if (!r.valid) process.stderr.write(r.issues.map((i) => formatIssue(r.file, i) + "\n").join(""));
          else if (!opts.quiet) process.stdout.write(`${r.file}: ok\n`);
        }
      }
      const code: ExitCode = reports.some((r) => r.error !== undefined) ? EXIT.USAGE : reports.some((r) => !r.valid) ? EXIT.FAILURE : EXIT.OK;
      // exitCode, not exit(): let stdout and stderr drain first
      process.exitCode = code;
    });
}
