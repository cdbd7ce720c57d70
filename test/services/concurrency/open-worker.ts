/**
 * A separate OS process that opens and migrates a series of new database files, each at an
 * agreed moment, so that another such process opens the same new file at the same instant.
 *
 * argv: <folder> <rounds> <first round at, ms since the epoch> <ms between rounds>
 * Prints one JSON line: for each round, null when the file opened and migrated, else the error.
 */
import { join } from "node:path";
import { migrateDatabase, openDatabase } from "../../../server/store/sqlite/database.js";

const [dir, roundsArg, startArg, gapArg] = process.argv.slice(2);
const results: (string | null)[] = [];
for (let round = 0; round < Number(roundsArg); round++) {
  const at = Number(startArg) + round * Number(gapArg);
  while (Date.now() < at) {
    // Spin rather than sleep: a timer would wake a few milliseconds late and miss the race.
  }
  try {
    const db = openDatabase({ path: join(dir!, `round-${round}.sqlite`), synchronous: "NORMAL" });
    migrateDatabase(db);
    db.$client.close();
    results.push(null);
  } catch (error) {
    results.push(`${(error as { code?: string }).code ?? ""} ${String(error)}`);
  }
}
console.log(JSON.stringify(results));
