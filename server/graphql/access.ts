import { notFound } from "../core/errors.js";
import type { Account, Viewer } from "../core/model.js";

/**
 * Partner scoping: which accounts a viewer may reach, decided while the operation runs, since
 * it depends on the accounts read. Every resolver reaches an account through `AccountAccess`.
 * Which fields a role may select at all is decided before execution, in roles.ts. A partner
 * reaches its reseller's accounts, everyone else all of them.
 */
export class AccountAccess {
  constructor(private readonly viewer: Viewer | null) {}

  /** The reseller a partner is confined to; undefined when the viewer is not confined. */
  get resellerScope(): number | undefined {
    return this.viewer?.key.role === "PARTNER" ? this.viewer.key.resellerId! : undefined;
  }

  canSee(account: Account): boolean {
    const scope = this.resellerScope;
    return scope === undefined || account.resellerId === scope;
  }

  /**
   * Someone else's account is NOT_FOUND, exactly like one that does not exist, so a partner
   * cannot learn which ids are taken.
   */
  visibleOrThrow(account: Account | null, field: string): Account {
    if (!account || !this.canSee(account)) throw notFound("account", field);
    return account;
  }
}
