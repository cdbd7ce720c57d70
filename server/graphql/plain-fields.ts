import { type GraphQLSchema, isObjectType } from "graphql";
import { getMetadataStorage } from "type-graphql";

/**
 * The types a portal page serves thousands of values of. Their plain fields hold data read from
 * the store, never a promise: graphql-jit reads a field without a resolver as a plain property
 * and would not wait for one (a connection's lazy totalCount is one, so connections stay out).
 */
export const HOT_TYPES: ReadonlySet<string> = new Set(["Account", "AccountEdge", "Balance", "CreditLot", "FlexPack", "Reseller"]);

/**
 * Gives the plain fields of the `hot` types (a property of the object, no resolver, no
 * middleware, no argument) graphql-js's own property read instead of type-graphql's per-field
 * wrapper, which allocates a middleware context for every value served. A field whose API name
 * differs from its property (Balance.available is `availableMicros`) reads the property
 * directly; the others get no resolver at all, which graphql-jit compiles to a property access.
 * Fields with a resolver keep type-graphql's.
 */
export function plainFields(schema: GraphQLSchema, hot: ReadonlySet<string> = HOT_TYPES): GraphQLSchema {
  const storage = getMetadataStorage();
  // By class, not class name: every connectionOf() class is called ConnectionType.
  const resolved = new Map<Function, Set<string>>();
  for (const resolver of storage.fieldResolvers) {
    const target = resolver.getObjectType?.() as Function | undefined;
    if (!target) continue;
    if (!resolved.has(target)) resolved.set(target, new Set());
    resolved.get(target)!.add(resolver.methodName);
  }
  for (const objectType of storage.objectTypes) {
    if (!hot.has(objectType.name)) continue;
    const type = schema.getType(objectType.name);
    if (!isObjectType(type)) continue;
    const fields = type.getFields();
    for (const field of objectType.fields ?? []) {
      const schemaField = fields[field.schemaName];
      const plain = !resolved.get(field.target)?.has(field.name) && !field.middlewares?.length && !field.roles?.length && !field.params?.length;
      if (!schemaField || !plain || schemaField.args.length > 0) continue;
      const property = field.name;
      schemaField.resolve = property === field.schemaName ? undefined : (source: Record<string, unknown>) => source[property];
    }
  }
  return schema;
}
