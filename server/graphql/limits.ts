import type { ApolloServerPlugin } from "@apollo/server";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { BREAK, type ASTNode, type DocumentNode, GraphQLError, type GraphQLSchema, getVariableValues, Kind, TypeInfo, type ValidationContext, type ValidationRule, visit, visitWithTypeInfo } from "graphql";
import { getComplexity } from "graphql-query-complexity";
import { MAXIMA } from "../core/maxima.js";
import { costReadsArguments, estimateCost, LENGTH_ONLY_ARGUMENTS } from "./cost.js";

/**
 * Abuse limits, all checked before anything runs. Each check takes time linear in the document:
 * - the parser stops at `maxTokens`;
 * - Apollo's recursive-selection rule counts the selections of the document with every fragment
 *   spread expanded, memoised per fragment, and refuses more than `maxSelections` before any
 *   other rule walks the document; so the rules after it, which follow spreads, never walk more
 *   than that many selections (a document of fragments spreading fragments twice, 30 deep,
 *   expands to 2^30 and is refused in a millisecond);
 * - GraphQL Armor's depth and alias rules (memoised per fragment too);
 * - the size of the request's variables (`maxListItems`, `maxVariableValues`) when the operation
 *   is resolved, before anything coerces them: coercion takes time linear in their size, and the
 *   body limit lets 20 MB in (a single event with 600,000 labels held the loop for 12 s);
 * - the cost (graphql/cost.ts, computed by graphql-query-complexity) then, with the request's
 *   variables, since Apollo caches validation per document.
 * Sized for real portal pages: 100 accounts with balance, reseller, lots and packs cost 30,600;
 * five accounts with 100 charges and their receipts (up to 201 lines each) are refused.
 */
export const LIMITS = Object.freeze({
  maxDepth: 12,
  maxAliases: 50,
  maxCost: 100_000,
  /** Parser token cap, applied by Apollo before validation. */
  maxTokens: 10_000,
  /** Selections of one operation with its fragments expanded (Apollo's maxRecursiveSelections). */
  maxSelections: 10_000,
  /** Items of any one list in the variables: the longest list an argument takes, a batch's events. */
  maxListItems: MAXIMA.eventsPerBatch,
  /**
   * JSON values (objects, lists and what they hold) in all of a request's variables: a full batch
   * whose every event has every field and the most labels (the event, its 7 fields, its labels
   * and 3 per label: 69,000), and 1,000 more for the request's other variables.
   */
  maxVariableValues: MAXIMA.eventsPerBatch * (9 + 3 * MAXIMA.labelsPerEvent) + 1_000,
});

function tooComplex(message: string): GraphQLError {
  // The status makes a refusal found after validation a 400 like the validation refusals.
  return new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX", http: { status: 400 } } });
}

const costTooHigh = (cost: number) => tooComplex(`the query would cost ${cost}; at most ${LIMITS.maxCost} is allowed (ask for smaller pages or fewer reports)`);

/** Armor's rules report through this: its message without the "Syntax Error: " it prefixes. */
const reportTooComplex = (context: ValidationContext | null, error: GraphQLError) =>
  context?.reportError(tooComplex(error.message.replace(/^Syntax Error: /, "")));

/** Depth and alias limits, as validation rules (Apollo runs them after the selection limit). */
export const queryShapeRules: ValidationRule[] = [
  maxDepthRule({ n: LIMITS.maxDepth, flattenFragments: true, propagateOnRejection: false, onReject: [reportTooComplex] }),
  maxAliasesRule({ n: LIMITS.maxAliases, allowList: [], propagateOnRejection: false, onReject: [reportTooComplex] }),
];

/**
 * Costs of operations by document, and by operation name and the lengths of the lists that decide
 * them (see costKey): the same document costs the same every time (Apollo keeps one parsed
 * document per query text), and computing it, which coerces every variable, was a twentieth of
 * serving a portal page and of a recordUsage request, and coercing a batch's events a second time
 * a twentieth of recording it. An operation whose variables reach what the cost model reads
 * otherwise is costed on every request.
 */
const knownCosts = new WeakMap<DocumentNode, Map<string, number>>();

/**
 * What of a document's variables its cost depends on: nothing, the lengths of some list variables
 * (each passed whole as an argument of LENGTH_ONLY_ARGUMENTS), or their values.
 */
type CostVariables = { readonly values: true } | { readonly values: false; readonly lengths: readonly string[] };

const costVariablesOf = new WeakMap<DocumentNode, CostVariables>();

function costVariables(schema: GraphQLSchema, document: DocumentNode): CostVariables {
  let known = costVariablesOf.get(document);
  if (known === undefined) {
    const typeInfo = new TypeInfo(schema);
    let values = false;
    const lengths: string[] = [];
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Directive(node) {
          if (holdsVariable(node)) values = true;
        },
        Field(node) {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          if (parent && field && !costReadsArguments(parent.name, field)) return;
          const lengthOnly = parent && field ? LENGTH_ONLY_ARGUMENTS[`${parent.name}.${field.name}`] : undefined;
          for (const argument of node.arguments ?? []) {
            if (argument.name.value === lengthOnly && argument.value.kind === Kind.VARIABLE) lengths.push(argument.value.name.value);
            else if (holdsVariable(argument)) values = true;
          }
        },
      }),
    );
    known = values ? { values } : { values, lengths };
    costVariablesOf.set(document, known);
  }
  return known;
}

/**
 * Whether a document costs the same whatever its variables: none of them reaches an argument the
 * cost model reads (costReadsArguments) nor a directive (@skip and @include leave fields out).
 * `recordUsage(input: $input)` does; `accounts(first: $n)` and `recordUsageBatch(inputs: $inputs)`
 * do not.
 */
export function costIgnoresVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  const variables = costVariables(schema, document);
  return !variables.values && variables.lengths.length === 0;
}

/**
 * What this request's cost is known by, for a document that costs the same for every request with
 * the same key: its operation name, and the length of each list its cost counts. Null when the
 * cost must be computed from the variables' values, or a counted list variable is not a list
 * (GraphQL coerces a lone item to a list of one; computing the cost handles that).
 */
export function costKey(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): string | null {
  const costs = costVariables(schema, document);
  if (costs.values) return null;
  let key = operationName ?? "";
  for (const name of costs.lengths) {
    const list = variables[name];
    if (!Array.isArray(list)) return null;
    key += `|${list.length}`;
  }
  return key;
}

function holdsVariable(node: ASTNode): boolean {
  let found = false;
  visit(node, {
    Variable() {
      found = true;
      return BREAK;
    },
  });
  return found;
}

/**
 * The cost limit, checked once the operation is known and before it runs. A request whose
 * variables do not fit the document is left to execution, which refuses it before any resolver.
 */
export const queryCostPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document, schema, operation }) {
        // operationCheckPlugin refuses a request whose operation name resolves to none.
        if (!operation) return;
        const variables = request.variables ?? {};
        const oversized = oversizedVariables(variables, document);
        if (oversized) throw oversized;
        const key = costKey(schema, document, request.operationName, variables);
        const known = key === null ? undefined : knownCosts.get(document)?.get(key);
        if (known !== undefined) {
          if (known > LIMITS.maxCost) throw costTooHigh(known);
          return;
        }
        let cost: number;
        try {
          cost = getComplexity({
            schema,
            query: document,
            variables,
            operationName: request.operationName ?? undefined,
            estimators: [estimateCost],
            maxQueryNodes: LIMITS.maxSelections,
          });
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          if (/maximum allowed number of nodes/.test(error.message)) throw tooComplex(`the query selects more than ${LIMITS.maxSelections} fields`);
          // Variables that do not fit the document: execution refuses the whole operation before
          // any resolver runs. Anything else fails closed: nothing runs at a cost not known.
          if (getVariableValues(schema, operation.variableDefinitions ?? [], variables).errors) return;
          throw tooComplex(`the cost of this request could not be computed: ${error.message}`);
        }
        if (key !== null) {
          const costs = knownCosts.get(document) ?? new Map<string, number>();
          knownCosts.set(document, costs.set(key, cost));
        }
        if (cost > LIMITS.maxCost) throw costTooHigh(cost);
      },
    };
  },
};

/**
 * The refusal of variables past LIMITS.maxListItems or LIMITS.maxVariableValues, or null. The walk
 * stops at the first value past either, so it costs at most maxVariableValues steps; it keeps no
 * path on the way (a full batch is walked on every request), and finds the path of a list too
 * long only to refuse it.
 */
export function oversizedVariables(variables: Record<string, unknown>, document: DocumentNode): GraphQLError | null {
  let budget = LIMITS.maxVariableValues;
  let tooLong: unknown[] | null = null;
  const oversized = (value: unknown): boolean => {
    if (--budget < 0) return true;
    if (typeof value !== "object" || value === null) return false;
    if (Array.isArray(value)) {
      if (value.length > LIMITS.maxListItems) {
        tooLong = value;
        return true;
      }
      for (let index = 0; index < value.length; index++) if (oversized(value[index])) return true;
      return false;
    }
    for (const key in value) if (oversized((value as Record<string, unknown>)[key])) return true;
    return false;
  };
  for (const name in variables) {
    if (!oversized(variables[name])) continue;
    if (tooLong === null) return tooComplex(`the variables hold more than ${LIMITS.maxVariableValues} values`);
    const list: unknown[] = tooLong;
    // graphql-js's own shape for a variable's bad value: formatError names the argument it fills.
    return new GraphQLError(`Variable "$${name}" got invalid value (a list of ${list.length} items) at "${name}${pathTo(variables[name], list) ?? ""}"; a list may hold at most ${LIMITS.maxListItems} items.`, {
      source: document.loc?.source,
      extensions: { code: "BAD_USER_INPUT", http: { status: 400 } },
    });
  }
  return null;
}

/** The path from `value` to `target` inside it, as graphql-js writes one (".labels[3]"); "" when it is `value`. */
function pathTo(value: unknown, target: unknown): string | null {
  if (value === target) return "";
  if (typeof value !== "object" || value === null) return null;
  for (const [key, inner] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const rest = pathTo(inner, target);
    if (rest !== null) return `${typeof key === "number" ? `[${key}]` : `.${key}`}${rest}`;
  }
  return null;
}
