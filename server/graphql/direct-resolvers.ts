import { type GraphQLFieldResolver, type GraphQLSchema, isObjectType } from "graphql";
import { getMetadataStorage } from "type-graphql";
import { HOT_TYPES } from "./plain-fields.js";

type Param = NonNullable<ReturnType<typeof getMetadataStorage>["fieldResolvers"][number]["params"]>[number];

/**
 * Calls the field resolvers of the `hot` types directly, without type-graphql's wrapper. For every
 * call the wrapper sorts the parameters, converts each argument and validates it through an async
 * function, so a resolver with any argument (`creditLots(includeExpired:)`, `balance(asOf:)`)
 * returns a promise even when its value is already there: a portal page paid a Promise.all per
 * account and per field. A resolver is called directly only when its parameters are the root, the
 * context, the info and arguments of scalar or enum types (nothing to convert: validation is off
 * in this schema), and it has no middleware; any other keeps type-graphql's wrapper. Run before
 * strictInputs, which wraps what this sets.
 */
export function directResolvers(schema: GraphQLSchema, hot: ReadonlySet<string> = HOT_TYPES): GraphQLSchema {
  const storage = getMetadataStorage();
  const inputClasses = new Set<unknown>(storage.inputTypes.map((input) => input.target));
  const instances = new Map<Function, object>();
  const plain = (param: Param) => {
    switch (param.kind) {
      case "context":
      case "info":
        return true;
      case "root":
        return param.propertyName === undefined && (param.getType === undefined || param.getType() === Object);
      case "arg":
        return param.validateFn === undefined && !inputClasses.has(param.getType());
      default:
        return false;
    }
  };
  for (const resolver of storage.fieldResolvers) {
    const objectClass = resolver.getObjectType?.() as Function | undefined;
    const typeName = objectClass && storage.objectTypes.find((type) => type.target === objectClass)?.name;
    if (!typeName || !hot.has(typeName) || resolver.kind !== "external") continue;
    const type = schema.getType(typeName);
    const field = isObjectType(type) ? type.getFields()[resolver.schemaName] : undefined;
    const params = [...(resolver.params ?? [])].sort((a, b) => a.index - b.index);
    if (!field || resolver.middlewares?.length || resolver.roles?.length || !params.every(plain)) continue;
    let instance = instances.get(resolver.target);
    if (!instance) instances.set(resolver.target, (instance = new (resolver.target as new () => object)()));
    const method = (instance as Record<string, (...values: unknown[]) => unknown>)[resolver.methodName]!;
    const target = instance;
    const values = params.map((param): ((root: unknown, args: Record<string, unknown>, context: Record<string, unknown>, info: unknown) => unknown) => {
      switch (param.kind) {
        case "root":
          return (root) => root;
        case "arg": {
          const name = param.name;
          return (_root, args) => args[name];
        }
        case "context": {
          const property = param.propertyName;
          return property === undefined ? (_root, _args, context) => context : (_root, _args, context) => context[property];
        }
        default:
          return (_root, _args, _context, info) => info;
      }
    });
    const direct: GraphQLFieldResolver<unknown, Record<string, unknown>> = (root, args, context, info) =>
      method.apply(target, values.map((value) => value(root, args, context, info)));
    field.resolve = direct;
  }
  return schema;
}
