/**
 * The real Flexgate server as a child process (`node --import tsx server/cli.ts serve`), as an
 * operator would run it, plus the HTTP helpers the benchmarks drive it with.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon, { type RequestSpec } from "autocannon";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface ServerOptions {
  readonly dbPath: string;
  readonly operatorKey: string;
  /** Write V8 CPU profiles of the whole server life into this folder (see mainThreadProfile). */
  readonly profileDir?: string;
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
  const child: ChildProcess = spawn(process.execPath, [...profile, "--import", "tsx", "server/cli.ts", "serve"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      FLEXGATE_DB: options.dbPath,
      FLEXGATE_DEMO: "off",
      FLEXGATE_SYNCHRONOUS: "FULL",
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
 * The main thread's profile in a folder written by --cpu-prof. The tsx loader runs module hooks
 * on a worker thread that writes a profile of its own; V8 names files CPU.<date>.<time>.<pid>.<thread>.<seq>.
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
  /** True when a 2xx body is a success (default: it carries no "errors" entry). */
  readonly accept?: (body: string) => boolean;
}

/** POSTs to /graphql from `connections` keep-alive connections for `seconds`. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const accept = options.accept ?? ((body: string) => !body.includes('"errors"'));
  let ok = 0;
  let refused = 0;
  const request: RequestSpec = {
    method: "POST",
    path: "/graphql",
    headers: { "content-type": "application/json", authorization: `Bearer ${options.key}` },
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
