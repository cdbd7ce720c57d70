ALTER TABLE "token_flex_pools" ADD COLUMN "start_settled_at" bigint;--> statement-breakpoint
-- Pools whose term started before this migration came in then: what they settled stays as it was.
UPDATE "token_flex_pools" SET "start_settled_at" = greatest("created_at", "starts_at") WHERE "starts_at" <= (extract(epoch from now()) * 1000)::bigint;
