/**
 * The real Flexgate server as a child process (`node <build>/server/cli.js serve`, as `npm start`
 * runs it), plus the HTTP helpers the benchmarks drive it with.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon, { type RequestSpec } from "autocannon";

/** `--node-flags="…"` of the bench commands, as a list (empty when not given). */
export const nodeFlagsOf = (value: string | undefined): string[] => (value ?? "").split(/\s+/).filter(Boolean);

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Progress for the person running a benchmark, on stderr: stdout carries the results. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Where buildServer() puts the compiled server (git-ignored with the rest of bench/results). */
const BUILD_DIR = join(REPO_ROOT, "bench", "results", "dist");

/**
 * Compiles the server from the working tree as `npm run build` does (without the console and
 * without type checking, which `npm test` does), so the benchmark runs what `npm start` runs:
 * plain JavaScript, no TypeScript loader in the process to inflate its memory or its profile.
 * Inside the repository, so the server finds migrations/ the way dist/ does.
 */
export function buildServer(outDir = BUILD_DIR, sourceDir = REPO_ROOT): void {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(process.execPath, [join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--noCheck", "--outDir", outDir], {
    cwd: sourceDir,
    stdio: "inherit",
  });
}

export interface ServerOptions {
  /** The SQLite file, when the server runs on SQLite. */
  readonly dbPath?: string;
  /** A postgres:// URL: the server runs on PostgreSQL instead (FLEXGATE_DATABASE_URL). */
  readonly databaseUrl?: string;
  /** FLEXGATE_DATABASE_POOL on PostgreSQL: connections the server keeps open. */
  readonly databasePool?: number;
  readonly operatorKey: string;
  /** Write V8 CPU profiles of the whole server life into this folder (see mainThreadProfile). */
  readonly profileDir?: string;
  /** Run the TypeScript sources through tsx instead of the build (see buildServer). */
  readonly tsx?: boolean;
  /** The folder buildServer compiled into, when not the default one. */
  readonly build?: string;
  /** FLEXGATE_SYNCHRONOUS for the server; FULL (the default) is what the figures are about. */
  readonly synchronous?: "FULL" | "NORMAL";
  /** Options for the server's node (V8's among them, e.g. --heap-growing-percent=150): ones NODE_OPTIONS may not carry. */
  readonly nodeFlags?: readonly string[];
}

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
  /** Error lines the server logged (unexpected errors are logged, never sent to clients). */
  readonly errorLines: string[];
  /** Kernel-tracked peak resident set (VmHWM) so far, in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const entry = options.tsx ? ["--import", "tsx", "server/cli.ts"] : [join(options.build ?? BUILD_DIR, "server", "cli.js")];
  const child: ChildProcess = spawn(process.execPath, [...profile, ...(options.nodeFlags ?? []), ...entry, "serve"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      ...(options.databaseUrl
        ? { FLEXGATE_DATABASE_URL: options.databaseUrl, ...(options.databasePool ? { FLEXGATE_DATABASE_POOL: String(options.databasePool) } : {}) }
        : { FLEXGATE_DB: options.dbPath, FLEXGATE_DATABASE_URL: "" }),
      FLEXGATE_DEMO: "off",
      FLEXGATE_SYNCHRONOUS: options.synchronous ?? "FULL",
      FLEXGATE_BOOTSTRAP_OPERATOR_KEY: options.operatorKey,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const errorLines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: { level?: string; message?: string; url?: string } = {};
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          errorLines.push(line);
        }
        if (entry.message === "Flexgate is listening" && entry.url) resolve(entry.url);
        if (entry.level === "error" || entry.level === "warn") errorLines.push(line);
      }
    });
    exited.then((code) => reject(new Error(`the server exited with ${code} before listening:\n${errorLines.join("\n")}`)));
  });
  return {
    url,
    pid: child.pid!,
    errorLines,
    peakRssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`the server exited with ${code}:\n${errorLines.join("\n")}`);
    },
  };
}

/**
 * The main thread's profile in a folder written by --cpu-prof (under tsx, the loader's worker
 * thread writes one of its own); V8 names files CPU.<date>.<time>.<pid>.<thread>.<seq>.
 */
export function mainThreadProfile(dir: string): string {
  const name = readdirSync(dir).find((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file));
  if (!name) throw new Error(`no main-thread profile in ${dir}`);
  return join(dir, name);
}

export async function graphql<T>(url: string, key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (!response.ok || body.errors || !body.data) throw new Error(`GraphQL request failed (${response.status}): ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export async function createKey(url: string, operatorKey: string, role: string, resellerId?: number): Promise<string> {
  const data = await graphql<{ createApiKey: { secret: string } }>(
    url,
    operatorKey,
    "mutation Key($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
    { input: { name: `bench ${role.toLowerCase()}`, role, resellerId: resellerId === undefined ? null : String(resellerId) } },
  );
  return data.createApiKey.secret;
}

/** The keys the benchmarks send requests with: a metering pipeline's and reseller 1's portal's. */
export interface Keys {
  readonly metering: string;
  readonly partner: string;
}

export async function keysFor(server: RunningServer, operatorKey: string): Promise<Keys> {
  return {
    metering: await createKey(server.url, operatorKey, "METERING"),
    partner: await createKey(server.url, operatorKey, "PARTNER", 1),
  };
}

export interface LoadResult {
  /** Requests answered with 2xx and no GraphQL error, per second of the run. */
  readonly perSecond: number;
  readonly ok: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly seconds: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly key: string;
  readonly connections: number;
  readonly seconds: number;
  /** A fresh request body for every request. */
  readonly body: () => string;
  /** Where the requests go (default /graphql) and as what (default application/json). */
  readonly path?: string;
  readonly contentType?: string;
  /** True when a 2xx body is a success (default: it carries no "errors" entry). */
  readonly accept?: (body: string) => boolean;
}

/** POSTs to /graphql (or `path`) from `connections` keep-alive connections for `seconds`. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const accept = options.accept ?? ((body: string) => !body.includes('"errors"'));
  let ok = 0;
  let refused = 0;
  const request: RequestSpec = {
    method: "POST",
    path: options.path ?? "/graphql",
    headers: { "content-type": options.contentType ?? "application/json", authorization: `Bearer ${options.key}` },
    setupRequest: (spec) => ({ ...spec, body: options.body() }),
    onResponse: (status, body) => {
      if (status >= 200 && status < 300 && accept(body)) ok++;
      else refused++;
    },
  };
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    requests: [request],
  });
  return {
    perSecond: ok / result.duration,
    ok,
    failed: refused + result.errors,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    seconds: result.duration,
  };
}
