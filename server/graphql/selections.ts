import {
  type FieldNode,
  type FragmentDefinitionNode,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type SelectionSetNode,
} from "graphql";

/**
 * The fields a selection set selects, in document order, through inline fragments and named
 * fragments (each named fragment once), without those @skip or @include leave out with these
 * variables. graphql-js collects fields the same way, but its collectFields is internal to it.
 */
export function selectedFields(
  selectionSet: SelectionSetNode | undefined,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  variables: Record<string, unknown>,
): FieldNode[] {
  const seen = new Set<string>();
  const collect = (set: SelectionSetNode | undefined): FieldNode[] =>
    (set?.selections ?? []).flatMap((selection) => {
      if (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true) return [];
      if (getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if === false) return [];
      if (selection.kind === Kind.FIELD) return [selection];
      if (selection.kind === Kind.INLINE_FRAGMENT) return collect(selection.selectionSet);
      if (seen.has(selection.name.value)) return [];
      seen.add(selection.name.value);
      return collect(fragments[selection.name.value]?.selectionSet);
    });
  return collect(selectionSet);
}
