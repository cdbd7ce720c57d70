DROP INDEX "allocations_deficit_idx";--> statement-breakpoint
CREATE INDEX "allocations_deficit_idx" ON "allocations" USING btree ("account_id") WHERE "allocations"."source" = 'DEFICIT';