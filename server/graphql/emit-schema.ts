import { writeFileSync } from "node:fs";
import { printedSchema } from "./schema.js";

// Writes the committed SDL; test/graphql/schema.test.ts fails when it drifts from the code.
const target = new URL("../../schema/schema.graphql", import.meta.url);
writeFileSync(target, printedSchema());
console.log(`wrote ${target.pathname}`);
