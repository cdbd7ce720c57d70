/**
 * The README's typed client: GraphQL Code Generator, run as an integrator runs it (the example
 * codegen.ts copied into an empty project beside the committed SDL and a sample operation),
 * maps the amount and time scalars to string and types the closed set of error codes.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../server/core/errors.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = join(root, "examples/typed-client");
let project: string;
let operations: string;
let schemaTypes: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "flexgate-client-"));
  cpSync(join(example, "codegen.ts"), join(project, "codegen.ts"));
  cpSync(join(example, "src"), join(project, "src"), { recursive: true });
  cpSync(join(root, "schema/schema.graphql"), join(project, "flexgate.graphql"));
  // The generator loads its presets and plugins from the project it runs in.
  symlinkSync(join(root, "node_modules"), join(project, "node_modules"), "dir");
  await promisify(execFile)(join(root, "node_modules/.bin/graphql-codegen"), ["--config", "codegen.ts"], { cwd: project, env: { ...process.env, CI: "true" } });
  operations = readFileSync(join(project, "src/flexgate/graphql.ts"), "utf8");
  schemaTypes = readFileSync(join(project, "src/flexgate/schema.ts"), "utf8");
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("a client generated from the committed SDL with the README's codegen.ts", () => {
  it("types Tokens, Quantity and DateTime as string in the schema's scalar map", () => {
    for (const scalar of ["Tokens", "Quantity", "DateTime"]) expect(schemaTypes).toContain(`${scalar}: { input: string; output: string; }`);
  });

  it("types the sample operation's amounts and instants as string, never any", () => {
    const result = /export type AccountUsageQuery = (.*);/.exec(operations)?.[1];
    expect(result).toBeDefined();
    expect(result).toContain("balance: { available: string, deficit: string, graceEndsAt: string | null }");
    expect(result).toContain("quantity: string, tokens: string, occurredAt: string");
    expect(result).not.toMatch(/\bany\b|\bunknown\b/);
  });

  it("contains the ErrorCode enum with exactly the closed set of codes", () => {
    const body = /export const ErrorCode = \{([^}]*)\} as const;/.exec(schemaTypes)?.[1];
    expect(body).toBeDefined();
    const codes = [...body!.matchAll(/^\s*(\w+): '(\w+)',?$/gm)].map(([, key, value]) => (expect(key).toBe(value), value));
    expect(codes.sort()).toEqual([...ERROR_CODES].sort());
    expect(schemaTypes).toContain("export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];");
  });
});
