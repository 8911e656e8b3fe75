-- Moving an app between shards (docs/workers.md, "Moving an app"): the moves and the writes held
-- during a move's switch (in DB), the apps a shard leaves out of its reads and the copy's cursors (on
-- the shards), the app's hold on the map, and clicks by app (a move walks an app's clicks).
CREATE TABLE `held_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` integer NOT NULL,
	`body` text NOT NULL,
	`held_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `held_messages_app` ON `held_messages` (`app_id`,`id`);--> statement-breakpoint
CREATE TABLE `hidden_apps` (
	`app_id` integer PRIMARY KEY NOT NULL,
	`move_id` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `move_cursors` (
	`move_id` integer NOT NULL,
	`table_name` text NOT NULL,
	`cursor` integer NOT NULL,
	PRIMARY KEY(`move_id`, `table_name`)
);
--> statement-breakpoint
CREATE TABLE `shard_moves` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` integer NOT NULL,
	`from_shard` integer NOT NULL,
	`to_shard` integer NOT NULL,
	`state` text NOT NULL,
	`progress` text NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`held_at` integer,
	`switched_at` integer,
	`done_at` integer,
	`leased_until` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `shard_moves_active` ON `shard_moves` (`app_id`) WHERE "shard_moves"."state" in ('copying', 'holding', 'deleting', 'aborting');--> statement-breakpoint
ALTER TABLE `app_shards` ADD `held_since` integer;--> statement-breakpoint
CREATE INDEX `clicks_app` ON `clicks` (`app_id`,`id`);