/**
 * The rating group's values are written into its statements' text by our own quoting (see
 * statement-text.ts for why not node-postgres's): it must write exactly what node-postgres's
 * escapeLiteral writes, for any text, however long. That the texts then reach the ledger as given
 * is rating-texts.test.ts, on PostgreSQL.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { literal, quoted } from "../../server/store/pg/statement-text.js";
import { seededRandom } from "../fixtures/random.js";

const AWKWARD = ["", "plain", `o'brien`, `''`, `back\\slash`, `\\`, `\\'`, `'\\`, `say "hi"`, `E'\\x41'`, "東京 株式会社 🪙", "line\nbreak"];

/** A text of `length` characters drawn from those that quoting and array literals treat specially. */
function awkwardText(random: () => number, length: number): string {
  const alphabet = `'\\"{},aE NUL`;
  return Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
}

describe("a text written into a statement", () => {
  it("is quoted exactly as node-postgres's escapeLiteral quotes it", () => {
    const seed = 20261202;
    const random = seededRandom(seed);
    const texts = [...AWKWARD, ...Array.from({ length: 500 }, () => awkwardText(random, Math.floor(random() * 40)))];
    for (const text of texts) expect(quoted(text), `seed ${seed}: ${JSON.stringify(text)}`).toBe(pg.escapeLiteral(text));
  });

  it("is quoted exactly so at its worst: 200,000 characters, every one a quote or a backslash", () => {
    const worst = `'\\`.repeat(100_000);
    expect(quoted(worst)).toBe(pg.escapeLiteral(worst));
    expect(quoted(worst).length).toBe(" E''".length + 2 * worst.length);
  });

  it("in an array, has its element quotes and backslashes escaped inside the quoted literal", () => {
    expect(literal(["a", `o'brien`, `say "hi"`, `back\\slash`, null])).toBe(` E'{"a","o''brien","say \\\\"hi\\\\"","back\\\\\\\\slash",NULL}'`);
    expect(literal([1, -2, null])).toBe(`'{1,-2,NULL}'`);
  });

  it("is refused if it holds a NUL, and a number if it is not a safe integer", () => {
    expect(() => literal("a\u0000b")).toThrow(/NUL/);
    expect(() => literal(["a", "b\u0000"])).toThrow(/NUL/);
    expect(() => literal(2 ** 53)).toThrow(/not a safe integer/);
    expect(() => literal([1.5])).toThrow(/not a safe integer/);
  });
});
