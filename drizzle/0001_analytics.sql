CREATE TABLE `api_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`app_ids` text,
	`ad_network_ids` text,
	`secret_sha256` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_secret_sha256_unique` ON `api_keys` (`secret_sha256`);--> statement-breakpoint
CREATE TABLE `campaigns` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ad_network_id` text NOT NULL,
	`app_id` integer NOT NULL,
	`source_identifier` text NOT NULL,
	`name` text NOT NULL,
	`network_campaign_id` text,
	`effective_from` integer,
	`effective_to` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `campaigns_lookup` ON `campaigns` (`ad_network_id`,`app_id`);--> statement-breakpoint
CREATE TABLE `conversion_schemas` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` integer NOT NULL,
	`version` integer NOT NULL,
	`effective_from` integer NOT NULL,
	`definition` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `conversion_schemas_app_version` ON `conversion_schemas` (`app_id`,`version`);--> statement-breakpoint
CREATE TABLE `maintenance_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`app_id` integer,
	`cursor` integer DEFAULT 0 NOT NULL,
	`until_id` integer,
	`created_at` integer NOT NULL,
	`done_at` integer
);
--> statement-breakpoint
CREATE TABLE `rollup_events` (
	`arrival_bucket` integer NOT NULL,
	`install_bucket` integer NOT NULL,
	`protocol` text NOT NULL,
	`environment` text NOT NULL,
	`signature` text NOT NULL,
	`ad_network_id` text NOT NULL,
	`app_id` integer NOT NULL,
	`campaign` text NOT NULL,
	`campaign_name` text NOT NULL,
	`source_identifier` text NOT NULL,
	`window` integer NOT NULL,
	`fidelity_type` integer NOT NULL,
	`redownload` integer NOT NULL,
	`did_win` integer NOT NULL,
	`version` text NOT NULL,
	`conversion_type` text NOT NULL,
	`country_code` text NOT NULL,
	`conversion_value` integer NOT NULL,
	`coarse_conversion_value` text NOT NULL,
	`source_app_id` integer NOT NULL,
	`source_domain` text NOT NULL,
	`currency` text NOT NULL,
	`event` text NOT NULL,
	`postbacks` integer DEFAULT 0 NOT NULL,
	`count_min` integer DEFAULT 0 NOT NULL,
	`count_max` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rollup_events_key` ON `rollup_events` (`arrival_bucket`,`install_bucket`,`protocol`,`environment`,`signature`,`ad_network_id`,`app_id`,`campaign`,`campaign_name`,`source_identifier`,`window`,`fidelity_type`,`redownload`,`did_win`,`version`,`conversion_type`,`country_code`,`conversion_value`,`coarse_conversion_value`,`source_app_id`,`source_domain`,`currency`,`event`);--> statement-breakpoint
CREATE INDEX `rollup_events_app_arrival` ON `rollup_events` (`app_id`,`arrival_bucket`);--> statement-breakpoint
CREATE INDEX `rollup_events_app_install` ON `rollup_events` (`app_id`,`install_bucket`);--> statement-breakpoint
CREATE TABLE `rollups` (
	`arrival_bucket` integer NOT NULL,
	`install_bucket` integer NOT NULL,
	`protocol` text NOT NULL,
	`environment` text NOT NULL,
	`signature` text NOT NULL,
	`ad_network_id` text NOT NULL,
	`app_id` integer NOT NULL,
	`campaign` text NOT NULL,
	`campaign_name` text NOT NULL,
	`source_identifier` text NOT NULL,
	`window` integer NOT NULL,
	`fidelity_type` integer NOT NULL,
	`redownload` integer NOT NULL,
	`did_win` integer NOT NULL,
	`version` text NOT NULL,
	`conversion_type` text NOT NULL,
	`country_code` text NOT NULL,
	`conversion_value` integer NOT NULL,
	`coarse_conversion_value` text NOT NULL,
	`source_app_id` integer NOT NULL,
	`source_domain` text NOT NULL,
	`currency` text NOT NULL,
	`postbacks` integer DEFAULT 0 NOT NULL,
	`verified` integer DEFAULT 0 NOT NULL,
	`installs` integer DEFAULT 0 NOT NULL,
	`redownloads` integer DEFAULT 0 NOT NULL,
	`reengagements` integer DEFAULT 0 NOT NULL,
	`non_winning` integer DEFAULT 0 NOT NULL,
	`window_0` integer DEFAULT 0 NOT NULL,
	`window_1` integer DEFAULT 0 NOT NULL,
	`window_2` integer DEFAULT 0 NOT NULL,
	`null_values` integer DEFAULT 0 NOT NULL,
	`coarse_low` integer DEFAULT 0 NOT NULL,
	`coarse_medium` integer DEFAULT 0 NOT NULL,
	`coarse_high` integer DEFAULT 0 NOT NULL,
	`conflicts` integer DEFAULT 0 NOT NULL,
	`invalid` integer DEFAULT 0 NOT NULL,
	`unverifiable` integer DEFAULT 0 NOT NULL,
	`revenue_min_micros` integer DEFAULT 0 NOT NULL,
	`revenue_max_micros` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rollups_key` ON `rollups` (`arrival_bucket`,`install_bucket`,`protocol`,`environment`,`signature`,`ad_network_id`,`app_id`,`campaign`,`campaign_name`,`source_identifier`,`window`,`fidelity_type`,`redownload`,`did_win`,`version`,`conversion_type`,`country_code`,`conversion_value`,`coarse_conversion_value`,`source_app_id`,`source_domain`,`currency`);--> statement-breakpoint
CREATE INDEX `rollups_app_arrival` ON `rollups` (`app_id`,`arrival_bucket`);--> statement-breakpoint
CREATE INDEX `rollups_app_install` ON `rollups` (`app_id`,`install_bucket`);--> statement-breakpoint
CREATE INDEX `rollups_arrival` ON `rollups` (`arrival_bucket`);--> statement-breakpoint
CREATE INDEX `rollups_install` ON `rollups` (`install_bucket`);--> statement-breakpoint
ALTER TABLE `postbacks` ADD `campaign` text;--> statement-breakpoint
ALTER TABLE `postbacks` ADD `installed_at` integer;--> statement-breakpoint
ALTER TABLE `postbacks` ADD `decode` text;--> statement-breakpoint
ALTER TABLE `postbacks` ADD `campaign_name` text;--> statement-breakpoint
ALTER TABLE `postbacks` ADD `network_campaign_id` text;--> statement-breakpoint
CREATE INDEX `postbacks_app` ON `postbacks` (`app_id`,`id`);