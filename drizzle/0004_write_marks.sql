CREATE TABLE `write_marks` (
	`token` text PRIMARY KEY NOT NULL,
	`floor` integer,
	`postback_id` integer
);
