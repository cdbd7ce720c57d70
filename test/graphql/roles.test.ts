/**
 * The role table on the schema, and the walk that checks an operation against it before
 * execution (over HTTP, test/graphql/authorization.test.ts shows what each role may do).
 */
import { type FragmentDefinitionNode, Kind, type OperationDefinitionNode, parse } from "graphql";
import { describe, expect, it } from "vitest";
import { keyOfRole, type Role } from "../../server/core/model.js";
import { forbiddenSelection, rolesOf } from "../../server/graphql/roles.js";
import { graphqlSchema } from "../../server/graphql/schema.js";

const schema = graphqlSchema();

function check(query: string, role: Role) {
  const document = parse(query);
  const operation = document.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    document.definitions.filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION).map((fragment) => [fragment.name.value, fragment]),
  );
  return forbiddenSelection(schema, schema.getRootType(operation.operation)!, operation.selectionSet, fragments, role);
}

/** Fragment F0 spreads F1 `fanOut` times, F1 spreads F2 …, `depth` levels: fanOut^depth paths. */
function fanOutDocument(depth: number, fanOut: number, leaf: string): string {
  const fragments = Array.from({ length: depth }, (_, level) => `fragment F${level} on Query { ${Array(fanOut).fill(`...F${level + 1}`).join(" ")} }`);
  return `query { ...F0 } ${fragments.join(" ")} fragment F${depth} on Query { ${leaf} }`;
}

describe("the role table", () => {
  it("declares the roles of every query and mutation", () => {
    const roots = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) => Object.values(type.getFields()));
    expect(roots.filter((field) => !rolesOf(field)?.length).map((field) => field.name)).toEqual([]);
  });

  it("names keys with the right article", () => {
    expect((["OPERATOR", "PARTNER", "METERING", "INTEGRATOR"] as const).map(keyOfRole)).toEqual(["an OPERATOR key", "a PARTNER key", "a METERING key", "an INTEGRATOR key"]);
  });
});

describe("forbiddenSelection", () => {
  it("allows what a role may select, introspection included", () => {
    expect(check(`{ __typename priceTable { apiCode } __schema { queryType { name } } }`, "INTEGRATOR")).toBeNull();
  });

  it("refuses a root field by its name and a nested one by type and path", () => {
    expect(check(`mutation { createAccount(input: { name: "x" }) { id } }`, "PARTNER")).toEqual({ coordinate: "createAccount", path: "createAccount" });
    expect(check(`{ list: resellers { edges { node { accounts { totalCount } } } } }`, "INTEGRATOR")).toEqual({
      coordinate: "Reseller.accounts",
      path: "list.edges.node.accounts",
    });
  });

  // A walk per path would take 2^30 (fan-out 2) or 4^30 steps: minutes at the least. Walked once
  // per fragment it takes well under a millisecond; the bound leaves room for a loaded machine.
  it("walks a 30-level fragment fan-out once per fragment, in well under a second, finding a forbidden field at the bottom", () => {
    for (const fanOut of [2, 4]) {
      const started = performance.now();
      expect(check(fanOutDocument(30, fanOut, "resellers { edges { node { accounts { totalCount } } } }"), "INTEGRATOR")?.coordinate).toBe("Reseller.accounts");
      expect(check(fanOutDocument(30, fanOut, "priceTable { apiCode }"), "INTEGRATOR")).toBeNull();
      expect(performance.now() - started).toBeLessThan(1_000);
    }
  });
});
