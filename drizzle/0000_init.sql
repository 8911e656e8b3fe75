CREATE TABLE `postbacks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`received_at` integer NOT NULL,
	`protocol` text NOT NULL,
	`environment` text NOT NULL,
	`version` text,
	`signature` text NOT NULL,
	`reasons` text NOT NULL,
	`key_id` text,
	`outcome` text NOT NULL,
	`first_id` integer,
	`dedupe_key` text,
	`body_sha256` text NOT NULL,
	`body` text NOT NULL,
	`ad_network_id` text,
	`transaction_id` text,
	`postback_sequence_index` integer,
	`campaign_id` integer,
	`source_identifier` text,
	`app_id` integer,
	`source_app_id` integer,
	`source_domain` text,
	`redownload` integer,
	`fidelity_type` integer,
	`did_win` integer,
	`conversion_value` integer,
	`coarse_conversion_value` text,
	`country_code` text,
	`ad_interaction_type` text,
	`conversion_type` text,
	`impression_type` text,
	`marketplace_identifier` text,
	`kid` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `postbacks_dedupe_key_unique` ON `postbacks` (`dedupe_key`);--> statement-breakpoint
CREATE UNIQUE INDEX `postbacks_body_sha256_unique` ON `postbacks` (`body_sha256`);--> statement-breakpoint
CREATE INDEX `postbacks_received_at` ON `postbacks` (`received_at`);--> statement-breakpoint
CREATE INDEX `postbacks_unsettled` ON `postbacks` (`id`) WHERE "postbacks"."signature" in ('invalid', 'unverifiable');--> statement-breakpoint
CREATE INDEX `postbacks_transaction` ON `postbacks` (`ad_network_id`,`transaction_id`);