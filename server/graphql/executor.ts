import type { ApolloServerOptionsWithGateway } from "@apollo/server";
import {
  type DocumentNode,
  execute,
  type ExecutionResult,
  getNamedType,
  type GraphQLInputType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  isScalarType,
  Kind,
  TypeInfo,
  typeFromAST,
  type ValueNode,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { type CompiledQuery, compileQuery, isCompiledQuery } from "graphql-jit";
import { log } from "../log.js";
import type { GraphQLContext } from "./context.js";
import { selectsOnlyHoldings } from "./holdings.js";
import { unparsedRefusal } from "./unparsed.js";

type GatewayInterface = ApolloServerOptionsWithGateway<never>["gateway"];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface["load"]>>["executor"]>;

/**
 * How Apollo executes an operation: queries run as JavaScript compiled for their document by
 * graphql-jit (a portal page spends most of its execution in graphql-js's generic walk over the
 * selection set), everything else with graphql-js.
 *
 * The error contract stays graphql-js's. graphql-jit shapes errors its own way (paths of list
 * items, coercion messages, errors of non-null fields), and formatError relies on graphql-js's
 * shapes to find the field and the code. So a query whose compiled run reports any error is run
 * again by graphql-js, and its answer is what the client gets: a query writes nothing, so running
 * it twice changes nothing but time, and only on the error path. Mutations always run on
 * graphql-js, once, and a mutation document one of whose fields would refuse a malformed value
 * is refused whole before any of them runs (unparsedRefusal).
 *
 * A document is compiled on its second execution: most one-off documents (an integrator
 * exploring, introspection) never pay for compilation, and those a client repeats soon do.
 * Compiled queries live as long as Apollo keeps their document in its document cache.
 */
export function jitExecutor(schema: GraphQLSchema): GatewayExecutor {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | "seen" | "graphql-js">>();
  const compiledFor = (document: DocumentNode, operationName: string | null): CompiledQuery | undefined => {
    let byOperation = compiled.get(document);
    if (!byOperation) compiled.set(document, (byOperation = new Map()));
    const key = operationName ?? "";
    const known = byOperation.get(key);
    if (known === undefined) {
      byOperation.set(key, "seen");
      return undefined;
    }
    if (known === "seen") {
      const query = compilable(schema, document) ? compile(schema, document, operationName) : undefined;
      byOperation.set(key, query ?? "graphql-js");
      return query;
    }
    return known === "graphql-js" ? undefined : known;
  };

  return async ({ document, operation, operationName, request, context }) => {
    const refusal = unparsedRefusal(schema, document, operation, request.variables ?? {});
    if (refusal) return { data: null, errors: [refusal] };
    if (selectsOnlyHoldings(schema, document)) (context as GraphQLContext).loaders.readHoldingsOnly();
    const graphqlJs = () =>
      execute({ schema, document, contextValue: context, variableValues: request.variables, operationName: request.operationName }) as ExecutionResult | Promise<ExecutionResult>;
    const query = operation.operation === "query" ? compiledFor(document, operationName) : undefined;
    if (!query) return graphqlJs();
    const result = await query.query(undefined, context, request.variables ?? {});
    return result.errors?.length ? graphqlJs() : result;
  };
}

function compile(schema: GraphQLSchema, document: DocumentNode, operationName: string | null): CompiledQuery | undefined {
  try {
    const query = compileQuery(schema, document, operationName ?? undefined, { disablingCapturingStackErrors: true });
    if (!isCompiledQuery(query)) return undefined;
    log.debug("compiled a query", { operationName: operationName ?? undefined });
    return query;
  } catch (error) {
    log.warn("graphql-jit could not compile a query; graphql-js runs it", { error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

const BUILT_IN_SCALARS = new Set(["String", "Int", "Float", "Boolean", "ID"]);

/** An enum, a built-in scalar or a list of them: what a literal may be for graphql-jit to keep it as graphql-js would. */
function plainInput(type: GraphQLInputType | null | undefined): boolean {
  const named = type && getNamedType(type);
  return !!named && (isEnumType(named) || (isScalarType(named) && BUILT_IN_SCALARS.has(named.name)));
}

/**
 * Whether graphql-jit keeps a literal as graphql-js would: one of a plain type, or of one of our
 * scalars when its value is a number or a string (an instant that parses), which graphql-jit
 * writes into its code unchanged.
 */
function keptLiteral(type: GraphQLInputType | null | undefined, node: ValueNode): boolean {
  if (plainInput(type)) return true;
  const scalar = type && isNonNullType(type) ? type.ofType : type;
  if (!scalar || !isScalarType(scalar)) return false;
  const value: unknown = scalar.parseLiteral(node, undefined);
  return typeof value === "number" || typeof value === "string";
}

/**
 * Whether graphql-jit runs the document's operations as graphql-js would. graphql-jit coerces
 * literal arguments and default values when it compiles and writes them into the code it
 * generates as JSON: our amounts (bigint) cannot be, and a value a deferring scalar could not
 * parse (Unparsed, refused by strictInputs with its field) would arrive as a plain object. So a
 * document with such a literal, with a default of one of our scalars, or with a literal of an
 * input object holding one, runs on graphql-js; a literal instant that parses is a number and is
 * kept (a year of daily usage asked for with literal dates renders compiled); variables are
 * coerced when the query runs, by the scalars themselves, and are fine.
 */
export function compilable(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let plain = true;
  // An input object literal is judged by its fields, each visited in turn.
  const check = (node: { value: ValueNode }) => {
    const type = typeInfo.getInputType();
    const literal = node.value.kind !== Kind.VARIABLE && node.value.kind !== Kind.NULL;
    if (literal && !(type && isInputObjectType(getNamedType(type))) && !keptLiteral(type, node.value)) plain = false;
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument: check,
      ObjectField: check,
      VariableDefinition(node) {
        if (node.defaultValue && !plainInput(typeFromAST(schema, node.type) as GraphQLInputType | undefined)) plain = false;
      },
      Field() {
        const field = typeInfo.getFieldDef();
        if (field?.args.some((arg) => arg.defaultValue !== undefined && !plainInput(arg.type))) plain = false;
      },
    }),
  );
  return plain;
}

/**
 * The schema and executor as Apollo's `gateway` option takes them: the one documented way to
 * give Apollo Server an executor of one's own. The schema never changes while the process runs.
 */
export function jitGateway(schema: GraphQLSchema): GatewayInterface {
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: "" });
      return () => {};
    },
    async load() {
      return { executor: jitExecutor(schema) };
    },
    async stop() {},
  };
}
