DROP INDEX `allocations_deficit_idx`;--> statement-breakpoint
CREATE INDEX `allocations_deficit_idx` ON `allocations` (`account_id`,`id`) WHERE "allocations"."source" = 'DEFICIT';