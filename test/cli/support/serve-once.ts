/**
 * `flexgate serve` in a child process, as an operator starts it, for as long as it takes to start.
 */
import { type ChildProcess, spawn } from "node:child_process";

const REPO = new URL("../../..", import.meta.url).pathname;

export interface ServeOutcome {
  readonly code: number | null;
  readonly listened: boolean;
  readonly stderr: string;
}

const running = new Set<ChildProcess>();

/** Kills the servers a failed test left running (for afterAll). */
export const killServersLeft = () => running.forEach((child) => child.kill("SIGKILL"));

/**
 * Starts `flexgate serve --no-demo` on the SQLite file `dbPath`; resolves when it is listening
 * (then stops it with SIGTERM) or when it exits on its own, with its exit code and everything it
 * wrote to stderr. `nodeFlags` go to node before the entry point (say, a module to preload).
 */
export function serveOnce(dbPath: string, env: Record<string, string>, nodeFlags: readonly string[] = []): Promise<ServeOutcome> {
  const child = spawn(process.execPath, ["--import", "tsx", ...nodeFlags, "server/cli.ts", "serve", "--no-demo"], {
    cwd: REPO,
    env: { ...process.env, FLEXGATE_DB: dbPath, FLEXGATE_SYNCHRONOUS: "NORMAL", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  let stderr = "";
  let listened = false;
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!listened && stderr.includes("Flexgate is listening")) {
      listened = true;
      child.kill("SIGTERM");
    }
  });
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve({ code, listened, stderr });
    }),
  );
}
