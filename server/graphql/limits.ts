import type { ApolloServerPlugin } from "@apollo/server";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { BREAK, type ASTNode, type DocumentNode, GraphQLError, type GraphQLSchema, TypeInfo, type ValidationContext, type ValidationRule, visit, visitWithTypeInfo } from "graphql";
import { getComplexity } from "graphql-query-complexity";
import { costReadsArguments, estimateCost } from "./cost.js";

/**
 * Abuse limits, all checked before anything runs. Each check takes time linear in the document:
 * - the parser stops at `maxTokens`;
 * - Apollo's recursive-selection rule counts the selections of the document with every fragment
 *   spread expanded, memoised per fragment, and refuses more than `maxSelections` before any
 *   other rule walks the document; so the rules after it, which follow spreads, never walk more
 *   than that many selections (a document of fragments spreading fragments twice, 30 deep,
 *   expands to 2^30 and is refused in a millisecond);
 * - GraphQL Armor's depth and alias rules (memoised per fragment too);
 * - the cost (graphql/cost.ts, computed by graphql-query-complexity) when the operation is
 *   resolved, with the request's variables, since Apollo caches validation per document.
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
 * Costs of operations whose variables cannot change them, by document and operation name: the
 * same document costs the same every time (Apollo keeps one parsed document per query text), and
 * computing it was a twentieth of serving a portal page and of a recordUsage request. An
 * operation whose variables reach what the cost model reads is costed on every request.
 */
const fixedCosts = new WeakMap<DocumentNode, Map<string, number>>();

const ignoringVariables = new WeakMap<DocumentNode, boolean>();

/**
 * Whether a document costs the same whatever its variables: none of them reaches an argument the
 * cost model reads (costReadsArguments) nor a directive (@skip and @include leave fields out).
 * `recordUsage(input: $input)` does; `accounts(first: $n)` and `recordUsageBatch(inputs: $inputs)`
 * do not.
 */
export function costIgnoresVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  let ignores = ignoringVariables.get(document);
  if (ignores === undefined) {
    const typeInfo = new TypeInfo(schema);
    ignores = true;
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Directive(node) {
          if (holdsVariable(node)) ignores = false;
        },
        Field(node) {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          const readsArguments = !parent || !field || costReadsArguments(parent.name, field);
          if (readsArguments && node.arguments?.some((argument) => holdsVariable(argument))) ignores = false;
        },
      }),
    );
    ignoringVariables.set(document, ignores);
  }
  return ignores;
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
        const fixed = operation !== undefined && (!operation.variableDefinitions?.length || costIgnoresVariables(schema, document));
        const known = fixed ? fixedCosts.get(document)?.get(request.operationName ?? "") : undefined;
        if (known !== undefined) {
          if (known > LIMITS.maxCost) throw costTooHigh(known);
          return;
        }
        let cost: number;
        try {
          cost = getComplexity({
            schema,
            query: document,
            variables: request.variables ?? {},
            operationName: request.operationName ?? undefined,
            estimators: [estimateCost],
            maxQueryNodes: LIMITS.maxSelections,
          });
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          if (/maximum allowed number of nodes/.test(error.message)) throw tooComplex(`the query selects more than ${LIMITS.maxSelections} fields`);
          return;
        }
        if (fixed) {
          const costs = fixedCosts.get(document) ?? new Map<string, number>();
          fixedCosts.set(document, costs.set(request.operationName ?? "", cost));
        }
        if (cost > LIMITS.maxCost) throw costTooHigh(cost);
      },
    };
  },
};
