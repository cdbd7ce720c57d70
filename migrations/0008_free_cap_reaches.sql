ALTER TABLE `free_months` ADD `reaches` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
-- A month that reached its cap keeps that instant, under the level of the cap in force then.
UPDATE `free_months` SET `reaches` = json_array(json_array(`level`, `reached_at`)) FROM (
  SELECT `account_id` AS `a`, `api_code` AS `p`, `month` AS `m`, coalesce((
    SELECT c.`units_per_month` FROM `free_caps` c WHERE c.`api_code` = f.`api_code` AND c.`effective_from` <= f.`reached_at`
    ORDER BY c.`effective_from` DESC, c.`id` DESC LIMIT 1), 0) AS `level`
  FROM `free_months` f WHERE f.`reached_at` IS NOT NULL
) WHERE `account_id` = `a` AND `api_code` = `p` AND `month` = `m` AND `used_units` >= `level`;--> statement-breakpoint
ALTER TABLE `free_months` DROP COLUMN `reached_at`;
