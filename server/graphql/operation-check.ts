import type { ApolloServerPlugin } from "@apollo/server";
import { type DocumentNode, GraphQLError, type GraphQLSchema, isNonNullType, type OperationDefinitionNode, TypeInfo, ValidationContext, type VariableNode } from "graphql";

/**
 * Refusals of a request that passed validation but cannot run as written, before anything runs:
 *
 * - An operation name that names no operation of the document, or none where the document holds
 *   several: graphql-js would only say so once execution started.
 * - A null, sent explicitly, for a nullable variable that fills a non-null argument or input
 *   field. GraphQL allows that place when the variable or the argument has a default (it stands
 *   in when the variable is left out), and graphql-js refuses the null only at the field, as it
 *   executes: a mutation's earlier fields would already have written, and a query's cost could
 *   not be computed beforehand.
 */
export const operationCheckPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document, schema, operation }) {
        if (!operation) throw unresolvedOperation(request.operationName);
        const refusal = nullVariableRefusal(schema, document, operation, request.variables ?? {});
        if (refusal) throw refusal;
      },
    };
  },
};

/** Validation has made sure the document holds an operation: none resolved is a name that names none, or none given among several. */
function unresolvedOperation(operationName: string | null | undefined): GraphQLError {
  const message = operationName != null ? `Unknown operation named "${operationName}".` : "Must provide operation name if query contains multiple operations.";
  return badRequest(message, { field: "operationName" });
}

/** The variables of an operation that must not be sent as null, each at its first such place. */
const nonNullUsagesOf = new WeakMap<OperationDefinitionNode, readonly VariableNode[]>();

function nonNullUsages(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): readonly VariableNode[] {
  let usages = nonNullUsagesOf.get(operation);
  if (usages === undefined) {
    const declaredNullable = new Set((operation.variableDefinitions ?? []).filter((definition) => !isNonNullType(definition.type)).map((definition) => definition.variable.name.value));
    const found = new Map<string, VariableNode>();
    if (declaredNullable.size > 0) {
      // graphql-js's own walk for its "variables in allowed positions" rule: every place a
      // variable is used, in the operation and the fragments it spreads, with the type expected there.
      const context = new ValidationContext(schema, document, new TypeInfo(schema), () => {});
      for (const { node, type } of context.getRecursiveVariableUsages(operation)) {
        const name = node.name.value;
        if (declaredNullable.has(name) && type && isNonNullType(type) && !found.has(name)) found.set(name, node);
      }
    }
    usages = [...found.values()];
    nonNullUsagesOf.set(operation, usages);
  }
  return usages;
}

/** The refusal of an explicit null where a value is required, naming the argument it fills; or null. */
export function nullVariableRefusal(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): GraphQLError | null {
  for (const node of nonNullUsages(schema, document, operation)) {
    if (variables[node.name.value] === null) {
      // No "field" here: formatError names the argument from the node's place in the document.
      return badRequest(`Variable "$${node.name.value}" is null where a value is required.`, {}, node);
    }
  }
  return null;
}

function badRequest(message: string, extensions: Record<string, unknown>, node?: VariableNode): GraphQLError {
  return new GraphQLError(message, { nodes: node, extensions: { code: "BAD_USER_INPUT", ...extensions, http: { status: 400 } } });
}
