import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A folder of committed drizzle-kit migrations (one holding meta/_journal.json), found by walking
 * up from here, so the same lookup serves the sources and dist/.
 */
export function findMigrationsFolder(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, name);
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${name} folder not found`);
    dir = parent;
  }
}
