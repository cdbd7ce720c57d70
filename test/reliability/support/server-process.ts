/**
 * The real Flexgate server as a child process (`flexgate serve`), on a database file the test
 * owns, with its stderr captured, and a small GraphQL client that tells an answer from a lost
 * connection.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * How the server is started:
 * - "tsx": `node --import tsx server/cli.ts serve`, exactly what `npm run serve` runs;
 * - "bundle": the same sources bundled once by esbuild (the transform tsx applies per file), so
 *   a test that restarts the server twenty times does not pay tsx's per-module loader each time
 *   (about 1 s a start on a 2-core machine).
 */
export type Launcher = { readonly kind: "tsx" } | { readonly kind: "bundle"; readonly entry: string };

export const TSX: Launcher = { kind: "tsx" };

/**
 * Bundles server/cli.ts, and the worker threads' modules beside it, with their packages left external. The bundle is written inside the
 * repository (node_modules/.cache) so it finds the packages and the migrations folder from there.
 */
export async function bundleServer(): Promise<{ launcher: Launcher; dispose(): void }> {
  const cache = join(REPO_ROOT, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, "flexgate-reliability-"));
  const entry = join(dir, "cli.mjs");
  await build({
    entryPoints: { cli: join(REPO_ROOT, "server", "cli.ts"), "read-worker": join(REPO_ROOT, "server", "store", "sqlite", "read-worker.ts"), "rating-worker": join(REPO_ROOT, "server", "store", "sqlite", "rating-worker.ts") },
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    tsconfig: join(REPO_ROOT, "tsconfig.json"),
    logLevel: "error",
  });
  return { launcher: { kind: "bundle", entry }, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr (its structured log) and stdout so far. */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  readonly dbPath: string;
  readonly launcher: Launcher;
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}

/** The environment of a production start: nothing of vitest's, NODE_ENV=production. */
function childEnv(extra: Readonly<Record<string, string>>, dbPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("VITEST") && key !== "NODE_ENV" && key !== "TEST" && !key.startsWith("FLEXGATE_")) env[key] = value;
  }
  return { ...env, NODE_ENV: "production", FLEXGATE_DB: dbPath, PORT: "0", HOST: "127.0.0.1", FLEXGATE_DEMO: "off", ...extra };
}

/** Starts `flexgate serve` and waits for its "listening" log line, which carries the URL. */
export function startServer(options: StartOptions): Promise<ServerProcess> {
  const args = options.launcher.kind === "tsx" ? ["--import", "tsx", "server/cli.ts", "serve"] : [options.launcher.entry, "serve"];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv(options.env ?? {}, options.dbPath),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`));
    }, options.startTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /\{[^\n]*"message":"Flexgate is listening"[^\n]*\}/.exec(output);
      if (match) {
        clearTimeout(timer);
        const url = (JSON.parse(match[0]) as { url: string }).url;
        resolvePromise({ url, child, output: () => output, exited });
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

export type Outcome =
  | { readonly kind: "answer"; readonly status: number; readonly body: { data?: any; errors?: any[] } }
  | { readonly kind: "lost"; readonly reason: string };

/**
 * POSTs one GraphQL request. "lost" means no complete answer arrived (refused, reset, cut
 * off): the caller cannot know whether the server committed it, so it must retry.
 */
export async function post(url: string, key: string, query: string, variables?: Record<string, unknown>, timeoutMs = 15_000): Promise<Outcome> {
  try {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    try {
      return { kind: "answer", status: response.status, body: JSON.parse(text) as { data?: any; errors?: any[] } };
    } catch {
      return { kind: "answer", status: response.status, body: { errors: [{ message: text, extensions: { code: "NOT_JSON" } }] } };
    }
  } catch (error) {
    return { kind: "lost", reason: error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}` : String(error) };
  }
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
