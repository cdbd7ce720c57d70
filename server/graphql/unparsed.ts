import {
  defaultFieldResolver,
  type DocumentNode,
  type GraphQLError,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isInputObjectType,
  isObjectType,
  isScalarType,
  Kind,
  locatedError,
  type OperationDefinitionNode,
} from "graphql";
import { selectedFields } from "./selections.js";

/**
 * A scalar value that did not parse, kept instead of refused. graphql-js coerces every variable
 * before any resolver runs, and one bad value there refuses the whole operation: a 1,000-event
 * batch would fail whole for one malformed quantity, while its contract says each event fails
 * alone. So the amount and date scalars keep what they could not parse, and `refuse` says why,
 * naming the field it finally turned out to be. Every field except the per-item ones refuses it
 * before its resolver runs (strictInputs), so nothing else ever sees one.
 */
export class Unparsed {
  constructor(private readonly parse: (field: string) => unknown) {}

  /** @throws FlexgateError BAD_USER_INPUT naming `field`: the value did not parse. */
  refuse(field: string): never {
    this.parse(field);
    throw new Error(`an unparsed value parsed as ${field}`);
  }
}

/** A value as a resolver receives it: parsed, or kept for a per-item refusal. */
export type MaybeUnparsed<T> = T | Unparsed;

/** The parsed value, or the refusal that names `field`. */
export function parsedOrThrow<T>(value: MaybeUnparsed<T>, field: string): T {
  return value instanceof Unparsed ? value.refuse(field) : value;
}

/** Arguments whose items each fail alone: the resolver refuses their unparsed values per item. */
const PER_ITEM_ARGUMENTS: ReadonlyMap<string, string> = new Map([["Mutation.recordUsageBatch", "inputs"]]);

/**
 * Wraps every field whose arguments can hold a deferring scalar so that an Unparsed anywhere in
 * them is refused, with its path ("input.quantity"), before the resolver runs: recordUsage and
 * every other field stay as strict as before. Only PER_ITEM_ARGUMENTS are left to the resolver.
 */
export function strictInputs(schema: GraphQLSchema, deferring: ReadonlySet<string>): GraphQLSchema {
  const holds = holdsDeferring(deferring);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      const perItem = PER_ITEM_ARGUMENTS.get(`${type.name}.${field.name}`);
      const checked = field.args.filter((arg) => arg.name !== perItem && holds(arg.type)).map((arg) => arg.name);
      if (checked.length > 0) wrap(field, checked);
    }
  }
  return schema;
}

/** The arguments each wrapped field refuses unparsed values in. */
const CHECKED = new WeakMap<GraphQLField<unknown, unknown>, readonly string[]>();

function wrap(field: GraphQLField<unknown, unknown>, checked: readonly string[]): void {
  CHECKED.set(field, checked);
  const resolve = field.resolve ?? defaultFieldResolver;
  field.resolve = (source, args: Record<string, unknown>, context, info) => {
    for (const name of checked) refuseUnparsed(args[name], name);
    return resolve(source, args, context, info);
  };
}

/**
 * The refusal a mutation document gets before any of its fields runs, when one of its fields
 * would refuse an unparsed value: graphql-js runs a mutation's fields one after the other, so the
 * second field's refusal would otherwise come after the first had written. With standard scalars
 * the value would have failed the whole document before execution; so it does here, with the
 * error the field would give (its path, code and argument). Null when every field may run, or
 * when the variables do not fit the document (execution refuses those before any field runs).
 * A field alone needs nothing: its wrapper refuses before its resolver.
 */
export function unparsedRefusal(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): GraphQLError | null {
  const mutation = schema.getMutationType();
  if (operation.operation !== "mutation" || !mutation) return null;
  // One field alone, as a batch is, needs nothing: its 500 events are not coerced a second time.
  const { selections } = operation.selectionSet;
  if (selections.length === 1 && selections[0]!.kind === Kind.FIELD) return null;
  const { coerced } = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (!coerced) return null;
  const fragments = Object.fromEntries(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [])));
  for (const node of selectedFields(operation.selectionSet, fragments, coerced)) {
    const field = mutation.getFields()[node.name.value];
    const checked = field && CHECKED.get(field);
    if (!checked) continue;
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(field, node, coerced);
    } catch {
      return null; // an argument execution refuses as graphql-js does, at its own field
    }
    try {
      for (const name of checked) refuseUnparsed(args[name], name);
    } catch (error) {
      return locatedError(error, node, [node.alias?.value ?? node.name.value]);
    }
  }
  return null;
}

function refuseUnparsed(value: unknown, path: string): void {
  if (value instanceof Unparsed) value.refuse(path);
  if (Array.isArray(value)) value.forEach((item, index) => refuseUnparsed(item, `${path}.${index}`));
  else if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) refuseUnparsed(inner, `${path}.${key}`);
  }
}

/** Whether an input type can hold one of the deferring scalars, through lists and input objects. */
function holdsDeferring(deferring: ReadonlySet<string>): (type: GraphQLInputType) => boolean {
  const known = new Map<string, boolean>();
  const holds = (type: GraphQLInputType): boolean => {
    const named = getNamedType(type);
    if (isScalarType(named)) return deferring.has(named.name);
    if (!isInputObjectType(named)) return false;
    if (!known.has(named.name)) {
      known.set(named.name, false); // a recursive input type holds what its other fields hold
      known.set(named.name, Object.values(named.getFields()).some((inner) => holds(inner.type)));
    }
    return known.get(named.name)!;
  };
  return holds;
}
