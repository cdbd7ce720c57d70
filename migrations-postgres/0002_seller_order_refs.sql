DROP INDEX "flex_packs_order_ref_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "flex_packs_reseller_order_ref_idx" ON "flex_packs" USING btree ("reseller_id","order_ref") WHERE "flex_packs"."reseller_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "flex_packs_estore_order_ref_idx" ON "flex_packs" USING btree ("order_ref") WHERE "flex_packs"."reseller_id" is null;