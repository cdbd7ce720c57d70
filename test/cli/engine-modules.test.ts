/**
 * `flexgate serve` loads the engine it serves from and no other: a server on SQLite never loads
 * node-postgres and the PostgreSQL store, which held about 7 MB of its memory idle and 15 MB at
 * B5's peak for nothing. A probe preloaded into the real server's process counts the modules of
 * `pg` it holds when it exits.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { killServersLeft, serveOnce } from "./support/serve-once.js";

const PROBE = `
import { createRequire } from "node:module";
const pgModules = () => Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\\\/]node_modules[\\\\/]pg[\\\\/]/.test(path));
process.on("exit", () => process.stderr.write("pg modules loaded: " + pgModules().length + "\\n"));
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "flexgate-engine-modules-"));
  writeFileSync(join(dir, "probe.mjs"), PROBE);
});
afterAll(() => {
  killServersLeft();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `flexgate serve` with the probe, stops it once it listens, and returns how many `pg` modules it had loaded. */
async function pgModulesOfServe(env: Record<string, string>): Promise<{ listened: boolean; pgModules: number }> {
  const { listened, stderr } = await serveOnce(join(dir, "serve.sqlite"), env, ["--import", join(dir, "probe.mjs")]);
  const counted = /pg modules loaded: (\d+)/.exec(stderr);
  if (!counted) throw new Error(`the probe did not report:\n${stderr}`);
  return { listened, pgModules: Number(counted[1]) };
}

it("serves from SQLite without loading node-postgres", async () => {
  expect(await pgModulesOfServe({ FLEXGATE_DATABASE_URL: "" })).toEqual({ listened: true, pgModules: 0 });
}, 60_000);

it("loads node-postgres when FLEXGATE_DATABASE_URL chooses PostgreSQL (here one that cannot be reached)", async () => {
  const { listened, pgModules } = await pgModulesOfServe({ FLEXGATE_DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" });
  expect(listened).toBe(false);
  expect(pgModules).toBeGreaterThan(0);
}, 60_000);
