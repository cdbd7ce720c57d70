import { AccountService } from "./accounts.service.js";
import { AuditService } from "./audit.service.js";
import type { ServiceContext } from "./context.js";
import { FundingService } from "./funding.service.js";
import { InsightService } from "./insight.service.js";
import { KeyService } from "./keys.service.js";
import { LedgerService } from "./ledger.service.js";
import { PriceService } from "./prices.service.js";
import { RatingService } from "./rating.service.js";
import { TieredService } from "./tiered.service.js";
import { ROW_LOCKING_BATCHING, SINGLE_WRITER_BATCHING, UsageBatcher } from "./usage-batcher.js";

export type Services = ReturnType<typeof createServices>;

export function createServices(context: ServiceContext) {
  const rating = new RatingService(context);
  const prices = new PriceService(context);
  return Object.freeze({
    context,
    accounts: new AccountService(context),
    audit: new AuditService(context),
    funding: new FundingService(context),
    insight: new InsightService(context, prices),
    keys: new KeyService(context),
    ledger: new LedgerService(context),
    prices,
    rating,
    tiered: new TieredService(context),
    // SQLite has one writer: a second group would only queue behind the first, so arrivals gather
    // instead. PostgreSQL's groups lock their accounts: a third would queue behind the second.
    usageBatcher: new UsageBatcher(rating, context.store.engine === "sqlite" ? SINGLE_WRITER_BATCHING : ROW_LOCKING_BATCHING),
  });
}
