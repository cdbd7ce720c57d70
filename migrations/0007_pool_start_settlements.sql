ALTER TABLE `token_flex_pools` ADD `start_settled_at` integer;--> statement-breakpoint
-- Pools whose term started before this migration came in then: what they settled stays as it was.
UPDATE `token_flex_pools` SET `start_settled_at` = max(`created_at`, `starts_at`) WHERE `starts_at` <= CAST(unixepoch('subsec') * 1000 AS INTEGER);
