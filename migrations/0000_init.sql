CREATE TABLE `accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`country` text,
	`reseller_id` integer,
	`balance_policy` text NOT NULL,
	`deficit_micros` integer DEFAULT 0 NOT NULL,
	`grace_started_at` integer,
	`demo` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`reseller_id`) REFERENCES `resellers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `accounts_reseller_idx` ON `accounts` (`reseller_id`,`id`);--> statement-breakpoint
CREATE TABLE `allocations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`charge_id` integer NOT NULL,
	`account_id` integer NOT NULL,
	`source` text NOT NULL,
	`credit_lot_id` integer,
	`flex_pack_id` integer,
	`amount_micros` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	FOREIGN KEY (`charge_id`) REFERENCES `usage_charges`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`credit_lot_id`) REFERENCES `credit_lots`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`flex_pack_id`) REFERENCES `flex_packs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `allocations_charge_idx` ON `allocations` (`charge_id`);--> statement-breakpoint
CREATE INDEX `allocations_lot_idx` ON `allocations` (`credit_lot_id`);--> statement-breakpoint
CREATE INDEX `allocations_pack_idx` ON `allocations` (`flex_pack_id`);--> statement-breakpoint
CREATE INDEX `allocations_deficit_idx` ON `allocations` (`account_id`,`source`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`reseller_id` integer,
	`secret_hash` text NOT NULL,
	`secret_prefix` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`reseller_id`) REFERENCES `resellers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_idx` ON `api_keys` (`secret_hash`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`actor_role` text NOT NULL,
	`action` text NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`before` text,
	`after` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_entity_idx` ON `audit_log` (`entity_type`,`entity_id`);--> statement-breakpoint
CREATE TABLE `credit_lots` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`amount_micros` integer NOT NULL,
	`remaining_micros` integer NOT NULL,
	`purchased_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`external_ref` text NOT NULL,
	`fingerprint` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_lots_external_ref_idx` ON `credit_lots` (`external_ref`);--> statement-breakpoint
CREATE INDEX `credit_lots_account_idx` ON `credit_lots` (`account_id`);--> statement-breakpoint
CREATE TABLE `deficit_settlements` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`allocation_id` integer NOT NULL,
	`source` text NOT NULL,
	`credit_lot_id` integer,
	`flex_pack_id` integer,
	`amount_micros` integer NOT NULL,
	`settled_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`allocation_id`) REFERENCES `allocations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`credit_lot_id`) REFERENCES `credit_lots`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`flex_pack_id`) REFERENCES `flex_packs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `deficit_settlements_allocation_idx` ON `deficit_settlements` (`allocation_id`);--> statement-breakpoint
CREATE INDEX `deficit_settlements_account_idx` ON `deficit_settlements` (`account_id`);--> statement-breakpoint
CREATE TABLE `flex_packs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`tokens_micros` integer NOT NULL,
	`remaining_micros` integer NOT NULL,
	`purchased_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`channel` text NOT NULL,
	`reseller_id` integer,
	`order_ref` text NOT NULL,
	`unit_price` text,
	`currency` text,
	`fingerprint` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`reseller_id`) REFERENCES `resellers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `flex_packs_order_ref_idx` ON `flex_packs` (`order_ref`);--> statement-breakpoint
CREATE INDEX `flex_packs_account_idx` ON `flex_packs` (`account_id`);--> statement-breakpoint
CREATE TABLE `price_cancellations` (
	`price_entry_id` integer PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`cancelled_by` text NOT NULL,
	`cancelled_at` integer NOT NULL,
	FOREIGN KEY (`price_entry_id`) REFERENCES `price_entries`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `price_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`api_code` text NOT NULL,
	`name` text NOT NULL,
	`meter` text NOT NULL,
	`unit_quantity` integer NOT NULL,
	`tokens_per_unit_micros` integer NOT NULL,
	`chargeable_outcomes` text NOT NULL,
	`effective_from` integer NOT NULL,
	`retired` integer DEFAULT false NOT NULL,
	`note` text NOT NULL,
	`published_by` text NOT NULL,
	`published_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `price_entries_code_idx` ON `price_entries` (`api_code`,`effective_from`);--> statement-breakpoint
CREATE TABLE `resellers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`tier` text NOT NULL,
	`flex_agreement` integer DEFAULT false NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`locations` text DEFAULT '[]' NOT NULL,
	`languages` text DEFAULT '[]' NOT NULL,
	`services` text DEFAULT '[]' NOT NULL,
	`demo` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `reversals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`charge_id` integer NOT NULL,
	`reason` text NOT NULL,
	`reversed_by` text NOT NULL,
	`reversed_at` integer NOT NULL,
	FOREIGN KEY (`charge_id`) REFERENCES `usage_charges`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reversals_charge_idx` ON `reversals` (`charge_id`);--> statement-breakpoint
CREATE TABLE `usage_charges` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` text NOT NULL,
	`fingerprint` text NOT NULL,
	`account_id` integer NOT NULL,
	`api_code` text NOT NULL,
	`price_entry_id` integer NOT NULL,
	`quantity_micros` integer NOT NULL,
	`outcome` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`rated_at` integer NOT NULL,
	`client_id` text,
	`labels` text DEFAULT '{}' NOT NULL,
	`tokens_micros` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`price_entry_id`) REFERENCES `price_entries`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `usage_charges_event_idx` ON `usage_charges` (`event_id`);--> statement-breakpoint
CREATE INDEX `usage_charges_account_occurred_idx` ON `usage_charges` (`account_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `usage_charges_account_id_idx` ON `usage_charges` (`account_id`,`id`);--> statement-breakpoint
CREATE INDEX `usage_charges_occurred_idx` ON `usage_charges` (`occurred_at`);