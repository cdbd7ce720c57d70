import { BREAK, type DocumentNode, type GraphQLSchema, isAbstractType, TypeInfo, visit, visitWithTypeInfo } from "graphql";

/**
 * The fields of CreditLot and FlexPack a holding (LotHolding, PackHolding) answers: what the lot
 * or pack holds and when it pays, and what follows from that. Any other field needs the full row.
 */
export const HOLDING_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  CreditLot: new Set(["__typename", "id", "amount", "remaining", "purchasedAt", "expiresAt", "expired"]),
  FlexPack: new Set(["__typename", "id", "tokens", "remaining", "purchasedAt", "expiresAt", "expired"]),
};

const judged = new WeakMap<DocumentNode, boolean>();

/**
 * Whether every CreditLot and FlexPack field anywhere in the document is a holding's: then its
 * operation may read lots and packs as holdings, without how each was bought (half a pack's
 * columns, and its strings: a portal page reads its packs in two thirds of the time). Fields
 * left out by @skip or @include, or in fragments no operation spreads, count too: the answer
 * holds for every operation of the document with any variables. Judged once per document (Apollo
 * keeps a repeated document as one object in its document cache).
 */
export function selectsOnlyHoldings(schema: GraphQLSchema, document: DocumentNode): boolean {
  let only = judged.get(document);
  if (only !== undefined) return only;
  only = true;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        if (!parent) return undefined;
        // A field on an interface or union is judged for every type it may be.
        const types = isAbstractType(parent) ? schema.getPossibleTypes(parent) : [parent];
        if (types.some(({ name }) => HOLDING_FIELDS[name]?.has(node.name.value) === false)) {
          only = false;
          return BREAK;
        }
        return undefined;
      },
    }),
  );
  judged.set(document, only);
  return only;
}
