/**
 * Several `flexgate serve` processes on one PostgreSQL database, as behind a load balancer: each
 * replica can be killed and started again (on a new port), and every process that ever ran keeps
 * its log, so a test can read what the dead ones wrote too.
 */
import { type Launcher, type ServerProcess, startServer } from "./server-process.js";

export interface ReplicaSetOptions {
  readonly launcher: Launcher;
  readonly databaseUrl: string;
  /** FLEXGATE_DATABASE_POOL of each replica: the sum over replicas stays under max_connections. */
  readonly poolSize: number;
  /** More environment for every replica (FLEXGATE_DEMO, FLEXGATE_BOOTSTRAP_OPERATOR_KEY…). */
  readonly env?: Readonly<Record<string, string>>;
}

export class ReplicaSet {
  private readonly current: ServerProcess[] = [];
  private readonly everStarted: ServerProcess[] = [];
  /** URLs of processes that were killed: a request lost there is the kill's, not a fault. */
  private readonly killed = new Set<string>();

  private constructor(private readonly options: ReplicaSetOptions) {}

  /** Starts `count` replicas together, as a deployment does (they migrate under one lock). */
  static async start(count: number, options: ReplicaSetOptions): Promise<ReplicaSet> {
    const set = new ReplicaSet(options);
    const started = await Promise.allSettled(Array.from({ length: count }, (_, index) => set.launch(index)));
    const failed = started.find((outcome) => outcome.status === "rejected");
    if (failed) {
      set.killAll();
      throw failed.reason;
    }
    set.current.push(...started.map((outcome) => (outcome as PromiseFulfilledResult<ServerProcess>).value));
    return set;
  }

  get size(): number {
    return this.current.length;
  }

  url(index: number): string {
    return this.current[index]!.url;
  }

  /** False once replica `index` has exited, whatever the reason. */
  isRunning(index: number): boolean {
    const { child } = this.current[index]!;
    return child.exitCode === null && child.signalCode === null;
  }

  wasKilled(url: string): boolean {
    return this.killed.has(url);
  }

  /** SIGKILLs replica `index` and waits until it is gone. */
  async kill(index: number): Promise<void> {
    const server = this.current[index]!;
    this.killed.add(server.url);
    server.child.kill("SIGKILL");
    const exit = await server.exited;
    if (exit.signal !== "SIGKILL") throw new Error(`replica ${index} exited with ${JSON.stringify(exit)} instead of dying of SIGKILL`);
  }

  /** Stops replica `index` where it is (SIGSTOP), as a pause, a frozen VM or a partition would. */
  freeze(index: number): void {
    this.current[index]!.child.kill("SIGSTOP");
  }

  thaw(index: number): void {
    this.current[index]!.child.kill("SIGCONT");
  }

  /** The application_name of replica `index`'s connections, to find them in pg_stat_activity. */
  static applicationName(index: number): string {
    return `flexgate-replica-${index + 1}`;
  }

  /** Starts replica `index` again in place of the one that was killed. */
  async restart(index: number): Promise<void> {
    this.current[index] = await this.launch(index);
  }

  /** Stops every replica with SIGTERM; resolves to each one's exit. */
  async stopAll(): Promise<{ code: number | null; signal: NodeJS.Signals | null }[]> {
    const running = this.current.splice(0);
    for (const server of running) server.child.kill("SIGTERM");
    return Promise.all(running.map((server) => server.exited));
  }

  killAll(): void {
    for (const server of this.everStarted) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGCONT");
        server.child.kill("SIGKILL");
      }
    }
  }

  /** The logs of every process that ran, the killed ones included. */
  logLines(): { level?: string; message?: string; [field: string]: unknown }[] {
    return this.everStarted.flatMap((server) =>
      server
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { level?: string; message?: string }),
    );
  }

  private async launch(index: number): Promise<ServerProcess> {
    const databaseUrl = new URL(this.options.databaseUrl);
    databaseUrl.searchParams.set("application_name", ReplicaSet.applicationName(index));
    const server = await startServer({
      // FLEXGATE_DATABASE_URL wins over the SQLite path, which stays unused.
      dbPath: "unused-when-a-database-url-is-set.sqlite",
      launcher: this.options.launcher,
      env: { ...this.options.env, FLEXGATE_DATABASE_URL: databaseUrl.toString(), FLEXGATE_DATABASE_POOL: String(this.options.poolSize) },
    });
    this.everStarted.push(server);
    return server;
  }
}
