ALTER TABLE "free_months" ADD COLUMN "reaches" text DEFAULT '[]' NOT NULL;--> statement-breakpoint
-- A month that reached its cap keeps that instant, under the level of the cap in force then.
UPDATE "free_months" f SET "reaches" = json_build_array(json_build_array(r."level", f."reached_at"))::text FROM (
  SELECT g."account_id", g."api_code", g."month", coalesce((
    SELECT c."units_per_month" FROM "free_caps" c WHERE c."api_code" = g."api_code" AND c."effective_from" <= g."reached_at"
    ORDER BY c."effective_from" DESC, c."id" DESC LIMIT 1), 0) AS "level"
  FROM "free_months" g WHERE g."reached_at" IS NOT NULL
) r WHERE f."account_id" = r."account_id" AND f."api_code" = r."api_code" AND f."month" = r."month" AND f."used_units" >= r."level";--> statement-breakpoint
ALTER TABLE "free_months" DROP COLUMN "reached_at";
