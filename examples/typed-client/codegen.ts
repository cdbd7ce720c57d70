import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * A typed Flexgate client generated with GraphQL Code Generator. Copy this file into your
 * project, save Flexgate's committed SDL (schema/schema.graphql) beside it as flexgate.graphql,
 * write your operations in src/, then:
 *
 *   npm install --save-dev @graphql-codegen/cli @graphql-codegen/client-preset @graphql-codegen/typescript
 *   npx graphql-codegen --config codegen.ts
 */

// Amounts are exact decimal strings ("0.120556"): a JavaScript number would round them.
// Instants are ISO-8601 UTC strings ("2024-05-01T10:00:00Z"); parse them where a Date is needed.
const scalars = { Tokens: "string", Quantity: "string", DateTime: "string" };

const config: CodegenConfig = {
  schema: "flexgate.graphql",
  documents: ["src/**/*.graphql"],
  generates: {
    // Typed documents and result types for the operations in src/ (`graphql()` and `*Document`).
    "src/flexgate/": { preset: "client", config: { scalars } },
    // Every type of the schema, ErrorCode included: only UsageAuthorization.code returns it, so
    // the operations' types above seldom mention it, yet `extensions.code` and `UsageError.code` take its values.
    "src/flexgate/schema.ts": {
      plugins: ["typescript"],
      config: { scalars, enumsAsConst: true, namingConvention: { enumValues: "keep" } },
    },
  },
};

export default config;
