/**
 * One `flexgate` command in a child process, as an operator runs it, with its exit code and output.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO = new URL("../../..", import.meta.url).pathname;

export interface CliOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `flexgate <args>` with `env` over the test's own; `user` runs it as another user (root only). */
export async function flexgate(args: readonly string[], env: Record<string, string>, user: { uid?: number; gid?: number } = {}): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], {
      cwd: REPO,
      // NORMAL durability: these files are thrown away, and fsyncs would only slow the test.
      env: { ...process.env, FLEXGATE_SYNCHRONOUS: "NORMAL", LOG_LEVEL: "error", ...env },
      ...user,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
