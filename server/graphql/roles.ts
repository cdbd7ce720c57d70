import type { ApolloServerPlugin } from "@apollo/server";
import {
  type FragmentDefinitionNode,
  getNamedType,
  type GraphQLField,
  GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  isObjectType,
  isInterfaceType,
  Kind,
  type SelectionSetNode,
} from "graphql";
import { Extensions } from "type-graphql";
import { keyOfRole, type Role } from "../core/model.js";
import type { GraphQLContext } from "./context.js";

/**
 * The role table lives on the schema itself: `@Roles(...)` on a field stores the roles that may
 * select it in the field's extensions, and `roleCheckPlugin` reads them from there before any
 * resolver runs. A root field must declare its roles (one that does not is refused to everyone);
 * a nested field without roles may be selected by whoever reached its parent.
 */
export function Roles(...roles: Role[]) {
  return Extensions({ roles });
}

export function rolesOf(field: GraphQLField<unknown, unknown>): readonly Role[] | undefined {
  return field.extensions.roles as readonly Role[] | undefined;
}

/** The roles that may select `Type.field`. */
export function rolesOfField(schema: GraphQLSchema, typeName: string, fieldName: string): readonly Role[] {
  const type = schema.getType(typeName);
  const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
  return (field && rolesOf(field)) ?? [];
}

export interface ForbiddenField {
  /** The field as the schema names it: "UsageCharge.account", or a root field's name alone. */
  readonly coordinate: string;
  /** Where the operation selects it, by response keys: "recordUsage.charge.account". */
  readonly path: string;
}

/**
 * The first field of a selection set that `role` may not select, or null. Each fragment is
 * walked once, at its first spread: its fields do not depend on where it is spread (its type
 * condition fixes them), so a document of fragments spreading fragments costs its size, never
 * the exponential number of paths through it. A forbidden field inside a fragment is reported
 * on the path of that first spread.
 */
export function forbiddenSelection(
  schema: GraphQLSchema,
  root: GraphQLNamedType,
  selectionSet: SelectionSetNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  role: Role,
): ForbiddenField | null {
  const walked = new Set<string>();
  const walk = (parent: GraphQLNamedType, selections: SelectionSetNode, path: readonly string[]): ForbiddenField | null => {
    for (const selection of selections.selections) {
      let found: ForbiddenField | null = null;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        // Introspection (__typename, __schema, __type) is open to every key.
        if (name.startsWith("__")) continue;
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
        if (!field) continue; // validation has refused unknown fields already
        const roles = rolesOf(field) ?? (parent === root ? [] : undefined);
        const here = [...path, selection.alias?.value ?? name];
        if (roles && !roles.includes(role)) return { coordinate: parent === root ? name : `${parent.name}.${name}`, path: here.join(".") };
        if (selection.selectionSet) found = walk(getNamedType(field.type), selection.selectionSet, here);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        found = walk(type ?? parent, selection.selectionSet, path);
      } else {
        const name = selection.name.value;
        const fragment = fragments[name];
        if (walked.has(name) || !fragment) continue;
        walked.add(name);
        found = walk(schema.getType(fragment.typeCondition.name.value) ?? parent, fragment.selectionSet, path);
      }
      if (found) return found;
    }
    return null;
  };
  return walk(root, selectionSet, []);
}

/**
 * Refuses an operation that selects any field the caller's role may not, before execution
 * starts: a refused operation writes nothing, and an answered one is answered whole (a write is
 * never done and then reported as FORBIDDEN because of a field read after it). It runs after
 * validation, so every field and fragment it meets exists.
 */
export const roleCheckPlugin: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operation, document, schema }) {
        const role = contextValue.viewer?.key.role;
        // Context creation has refused every caller without a valid key; this only fails closed.
        if (!role) throw new GraphQLError("no API key", { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
        const root = operation && schema.getRootType(operation.operation);
        if (!operation || !root) return;
        const fragments: Record<string, FragmentDefinitionNode> = {};
        for (const definition of document.definitions) {
          if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
        }
        const forbidden = forbiddenSelection(schema, root, operation.selectionSet, fragments, role);
        if (forbidden) {
          throw new GraphQLError(`${keyOfRole(role)} may not ${forbidden.coordinate.includes(".") ? "read" : "use"} ${forbidden.coordinate}`, {
            extensions: { code: "FORBIDDEN", field: forbidden.path, http: { status: 200 } },
          });
        }
      },
    };
  },
};
