DROP INDEX `rollups_arrival`;--> statement-breakpoint
DROP INDEX `rollups_install`;