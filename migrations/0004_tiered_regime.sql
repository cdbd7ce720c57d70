CREATE TABLE `free_caps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`api_code` text NOT NULL,
	`units_per_month` integer NOT NULL,
	`effective_from` integer NOT NULL,
	`note` text,
	`published_by` text NOT NULL,
	`published_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `free_months` (
	`account_id` integer NOT NULL,
	`api_code` text NOT NULL,
	`month` text NOT NULL,
	`used_units` integer NOT NULL,
	`overrun_units` integer NOT NULL,
	`latest_at` integer,
	`reached_at` integer,
	PRIMARY KEY(`account_id`, `api_code`, `month`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `payg_parts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`charge_id` integer NOT NULL,
	`statement_month` text NOT NULL,
	`api_code` text NOT NULL,
	`units` integer NOT NULL,
	`tokens_micros` integer NOT NULL,
	`booked_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`charge_id`) REFERENCES `usage_charges`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `payg_parts_statement_idx` ON `payg_parts` (`account_id`,`statement_month`);--> statement-breakpoint
CREATE INDEX `payg_parts_charge_idx` ON `payg_parts` (`charge_id`);--> statement-breakpoint
CREATE TABLE `plan_enrollments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`tier` text NOT NULL,
	`payg` integer DEFAULT false NOT NULL,
	`effective_from` integer NOT NULL,
	`enrolled_by` text NOT NULL,
	`enrolled_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `plan_enrollments_account_idx` ON `plan_enrollments` (`account_id`,`effective_from`);--> statement-breakpoint
CREATE TABLE `token_flex_pools` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`tokens_micros` integer NOT NULL,
	`remaining_micros` integer NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`external_ref` text NOT NULL,
	`fingerprint` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `token_flex_pools_external_ref_idx` ON `token_flex_pools` (`external_ref`);--> statement-breakpoint
CREATE INDEX `token_flex_pools_account_idx` ON `token_flex_pools` (`account_id`);--> statement-breakpoint
CREATE TABLE `unit_remainders` (
	`account_id` integer NOT NULL,
	`key` text NOT NULL,
	`quantity_micros` integer NOT NULL,
	PRIMARY KEY(`account_id`, `key`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `allocations` ADD `token_flex_pool_id` integer REFERENCES token_flex_pools(id);--> statement-breakpoint
ALTER TABLE `allocations` ADD `units` integer;--> statement-breakpoint
ALTER TABLE `deficit_settlements` ADD `token_flex_pool_id` integer REFERENCES token_flex_pools(id);--> statement-breakpoint
ALTER TABLE `usage_charges` ADD `units` integer;