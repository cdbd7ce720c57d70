/** Rebuilds the console only when a source is newer than its build, so a bare `vitest` works too. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildConsole, CONSOLE_DIST } from "../../console/build.js";

const CONSOLE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "console");

export async function ensureConsoleBuilt(): Promise<void> {
  const sources = [join(CONSOLE, "build.ts"), ...["src", "public"].flatMap((dir) => readdirSync(join(CONSOLE, dir)).map((name) => join(CONSOLE, dir, name)))];
  const built = join(CONSOLE_DIST, "index.html");
  const newest = Math.max(...sources.map((path) => statSync(path).mtimeMs));
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  await buildConsole();
}
