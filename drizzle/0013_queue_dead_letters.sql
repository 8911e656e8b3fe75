-- Queue mode (Workers): the ingest queue's dead letters, kept for admins to list and replay (docs/workers.md, "At scale").
CREATE TABLE `queue_dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `queue_dead_letters_message_id_unique` ON `queue_dead_letters` (`message_id`);