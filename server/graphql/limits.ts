import {
  type ArgumentNode,
  type ASTVisitor,
  type FragmentDefinitionNode,
  getNamedType,
  GraphQLError,
  type GraphQLNamedType,
  isObjectType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../services/context.js";

/**
 * Abuse limits, checked during validation, so nothing runs for a query that breaks them.
 * Sized for real portal queries: a page of 100 accounts with balance, reseller, lots and packs
 * costs about 2,000; 100 accounts with 100 charges each and their receipts is refused.
 */
export const LIMITS = Object.freeze({
  maxDepth: 12,
  maxAliases: 50,
  maxCost: 25_000,
  /** Parser token cap, applied by Apollo before validation. */
  maxTokens: 10_000,
});

interface Measure {
  depth: number;
  cost: number;
  aliases: number;
}

const NOTHING: Measure = { depth: 0, cost: 0, aliases: 0 };

/**
 * How many items a connection field returns at most: its literal `first`, or the page cap when
 * `first` is a variable (Apollo caches validation per document, so the variable's value cannot
 * be relied on), or the default page size.
 */
function connectionSize(argument: ArgumentNode | undefined): number {
  if (!argument) return DEFAULT_PAGE_SIZE;
  return argument.value.kind === Kind.INT ? Math.min(Number(argument.value.value), MAX_PAGE_SIZE) : MAX_PAGE_SIZE;
}

function measure(
  type: GraphQLNamedType | undefined,
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  context: ValidationContext,
  visiting: Set<string>,
): Measure {
  const total = { ...NOTHING };
  const add = (part: Measure) => {
    total.depth = Math.max(total.depth, part.depth);
    total.cost += part.cost;
    total.aliases += part.aliases;
  };
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith("__")) {
        // Introspection is answered from the schema, not the database, so it adds no depth or
        // cost (the standard introspection query is deeper than any portal query). Its aliases
        // still count: each aliased copy of __schema is walked again.
        const inner = selection.selectionSet ? measure(undefined, selection.selectionSet, fragments, context, visiting) : NOTHING;
        add({ depth: 0, cost: 0, aliases: inner.aliases + (selection.alias ? 1 : 0) });
        continue;
      }
      const field = isObjectType(type) ? type.getFields()[selection.name.value] : undefined;
      const fieldType = field ? getNamedType(field.type) : undefined;
      const child = selection.selectionSet ? measure(fieldType, selection.selectionSet, fragments, context, visiting) : NOTHING;
      const size = fieldType?.name.endsWith("Connection")
        ? connectionSize(selection.arguments?.find((arg) => arg.name.value === "first"))
        : 1;
      add({ depth: child.depth + 1, cost: 1 + child.cost * size, aliases: child.aliases + (selection.alias ? 1 : 0) });
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const condition = selection.typeCondition ? context.getSchema().getType(selection.typeCondition.name.value) : type;
      add(measure(condition ?? undefined, selection.selectionSet, fragments, context, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name)) continue; // unknown or cyclic: graphql's own rules report it
      visiting.add(name);
      add(measure(context.getSchema().getType(fragment.typeCondition.name.value) ?? undefined, fragment.selectionSet, fragments, context, visiting));
      visiting.delete(name);
    }
  }
  return total;
}

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX" } });
}

/** A validation rule measuring each operation's depth, aliases and cost. */
export function QueryLimitsRule(context: ValidationContext): ASTVisitor {
  return {
    Document(document) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const schema = context.getSchema();
      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const root = schema.getRootType(definition.operation) ?? undefined;
        const { depth, cost, aliases } = measure(root, definition.selectionSet, fragments, context, new Set());
        if (depth > LIMITS.maxDepth) context.reportError(tooComplex(`the query is ${depth} levels deep; at most ${LIMITS.maxDepth} are allowed`));
        if (aliases > LIMITS.maxAliases) context.reportError(tooComplex(`the query uses ${aliases} aliases; at most ${LIMITS.maxAliases} are allowed`));
        if (cost > LIMITS.maxCost) context.reportError(tooComplex(`the query would cost ${cost}; at most ${LIMITS.maxCost} is allowed (ask for smaller pages)`));
      }
      return false;
    },
  };
}
