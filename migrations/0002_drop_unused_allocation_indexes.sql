DROP INDEX `allocations_lot_idx`;--> statement-breakpoint
DROP INDEX `allocations_pack_idx`;