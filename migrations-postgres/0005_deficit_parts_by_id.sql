DROP INDEX "allocations_deficit_idx";--> statement-breakpoint
CREATE INDEX "allocations_deficit_idx" ON "allocations" USING btree ("account_id","id") WHERE "allocations"."source" = 'DEFICIT';