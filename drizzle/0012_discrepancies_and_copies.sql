-- Copy reconciliation and discrepancies (docs/discrepancies.md): every copy's channel (`postbacks.channel`,
-- and `postback_copies` for later copies that are not rows of their own), relay keys, figures
-- uploaded from elsewhere, and the aggregates' new dimension `network_campaign_id`.
-- The aggregate tables are copied with network_campaign_id '' where that is exact: a row without a
-- campaign name matched no mapping, and a network/app whose mappings carry no network campaign id
-- gives none. When some named row may need one, the copy is emptied and a rebuild job recomputes
-- the aggregates from the stored postbacks, as 0008 did. drizzle-kit generated the rest; the
-- tables are WITHOUT ROWID by hand, as in 0006.
CREATE TABLE `postback_copies` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`postback_id` integer NOT NULL,
	`channel` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `postback_copies_postback` ON `postback_copies` (`postback_id`);--> statement-breakpoint
CREATE TABLE `relay_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`ad_network_id` text,
	`secret_sha256` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `relay_keys_name_unique` ON `relay_keys` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `relay_keys_secret_sha256_unique` ON `relay_keys` (`secret_sha256`);--> statement-breakpoint
CREATE TABLE `reported_figures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source` text NOT NULL,
	`date` text NOT NULL,
	`tz` text NOT NULL,
	`app_id` integer NOT NULL,
	`ad_network_id` text NOT NULL,
	`campaign` text NOT NULL,
	`network_campaign_id` text NOT NULL,
	`metric` text NOT NULL,
	`event` text NOT NULL,
	`value` real NOT NULL,
	`currency` text NOT NULL,
	`uploaded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reported_figures_key` ON `reported_figures` (`source`,`date`,`tz`,`app_id`,`ad_network_id`,`campaign`,`network_campaign_id`,`metric`,`event`);--> statement-breakpoint
CREATE INDEX `reported_figures_app_day` ON `reported_figures` (`app_id`,`tz`,`date`);--> statement-breakpoint
ALTER TABLE `postbacks` ADD `channel` text DEFAULT 'direct' NOT NULL;--> statement-breakpoint
CREATE INDEX `postbacks_first` ON `postbacks` (`first_id`) WHERE "postbacks"."first_id" is not null;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_rollup_events` (
	`arrival_bucket` integer NOT NULL,
	`install_bucket` integer NOT NULL,
	`protocol` text NOT NULL,
	`environment` text NOT NULL,
	`signature` text NOT NULL,
	`ad_network_id` text NOT NULL,
	`app_id` integer NOT NULL,
	`campaign` text NOT NULL,
	`campaign_name` text NOT NULL,
	`network_campaign_id` text NOT NULL,
	`source_identifier` text NOT NULL,
	`window` integer NOT NULL,
	`fidelity_type` integer NOT NULL,
	`redownload` integer NOT NULL,
	`did_win` integer NOT NULL,
	`version` text NOT NULL,
	`conversion_type` text NOT NULL,
	`ad_interaction_type` text NOT NULL,
	`country_code` text NOT NULL,
	`conversion_value` integer NOT NULL,
	`coarse_conversion_value` text NOT NULL,
	`source_app_id` integer NOT NULL,
	`source_domain` text NOT NULL,
	`currency` text NOT NULL,
	`event` text NOT NULL,
	`postbacks` integer DEFAULT 0 NOT NULL,
	`count_min` integer DEFAULT 0 NOT NULL,
	`count_max` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `network_campaign_id`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `ad_interaction_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`, `event`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollup_events`("arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "network_campaign_id", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "ad_interaction_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "event", "postbacks", "count_min", "count_max") SELECT "arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", '', "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "ad_interaction_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "event", "postbacks", "count_min", "count_max" FROM `rollup_events`;--> statement-breakpoint
DROP TABLE `rollup_events`;--> statement-breakpoint
ALTER TABLE `__new_rollup_events` RENAME TO `rollup_events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `rollup_events_app_install` ON `rollup_events` (`app_id`,`install_bucket`);--> statement-breakpoint
CREATE TABLE `__new_rollups` (
	`arrival_bucket` integer NOT NULL,
	`install_bucket` integer NOT NULL,
	`protocol` text NOT NULL,
	`environment` text NOT NULL,
	`signature` text NOT NULL,
	`ad_network_id` text NOT NULL,
	`app_id` integer NOT NULL,
	`campaign` text NOT NULL,
	`campaign_name` text NOT NULL,
	`network_campaign_id` text NOT NULL,
	`source_identifier` text NOT NULL,
	`window` integer NOT NULL,
	`fidelity_type` integer NOT NULL,
	`redownload` integer NOT NULL,
	`did_win` integer NOT NULL,
	`version` text NOT NULL,
	`conversion_type` text NOT NULL,
	`ad_interaction_type` text NOT NULL,
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
	`revenue_min_cents` integer DEFAULT 0 NOT NULL,
	`revenue_max_cents` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `network_campaign_id`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `ad_interaction_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollups`("arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "network_campaign_id", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "ad_interaction_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "postbacks", "verified", "installs", "redownloads", "reengagements", "non_winning", "window_0", "window_1", "window_2", "null_values", "coarse_low", "coarse_medium", "coarse_high", "conflicts", "invalid", "unverifiable", "revenue_min_cents", "revenue_max_cents") SELECT "arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", '', "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "ad_interaction_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "postbacks", "verified", "installs", "redownloads", "reengagements", "non_winning", "window_0", "window_1", "window_2", "null_values", "coarse_low", "coarse_medium", "coarse_high", "conflicts", "invalid", "unverifiable", "revenue_min_cents", "revenue_max_cents" FROM `rollups`;--> statement-breakpoint
-- Only rows named through a mapping that carries a network campaign id can need one, and only a
-- rebuild can tell which: then the new aggregates start empty and are rebuilt from the postbacks.
DELETE FROM `__new_rollups` WHERE EXISTS (SELECT 1 FROM `rollups` r WHERE r.`campaign_name` != '' AND EXISTS (SELECT 1 FROM `campaigns` c WHERE c.`ad_network_id` = r.`ad_network_id` AND c.`app_id` = r.`app_id` AND c.`network_campaign_id` IS NOT NULL));--> statement-breakpoint
DELETE FROM `rollup_events` WHERE EXISTS (SELECT 1 FROM `rollups` r WHERE r.`campaign_name` != '' AND EXISTS (SELECT 1 FROM `campaigns` c WHERE c.`ad_network_id` = r.`ad_network_id` AND c.`app_id` = r.`app_id` AND c.`network_campaign_id` IS NOT NULL));--> statement-breakpoint
UPDATE `maintenance_jobs` SET `done_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE `kind` = 'rebuild' AND `done_at` IS NULL AND EXISTS (SELECT 1 FROM `rollups` r WHERE r.`campaign_name` != '' AND EXISTS (SELECT 1 FROM `campaigns` c WHERE c.`ad_network_id` = r.`ad_network_id` AND c.`app_id` = r.`app_id` AND c.`network_campaign_id` IS NOT NULL));--> statement-breakpoint
INSERT INTO `maintenance_jobs` (`kind`, `cursor`, `until_id`, `created_at`)
  SELECT 'rebuild', 0, max(`id`), CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM `postbacks` WHERE EXISTS (SELECT 1 FROM `rollups` r WHERE r.`campaign_name` != '' AND EXISTS (SELECT 1 FROM `campaigns` c WHERE c.`ad_network_id` = r.`ad_network_id` AND c.`app_id` = r.`app_id` AND c.`network_campaign_id` IS NOT NULL)) HAVING count(*) > 0;--> statement-breakpoint
DROP TABLE `rollups`;--> statement-breakpoint
ALTER TABLE `__new_rollups` RENAME TO `rollups`;--> statement-breakpoint
CREATE INDEX `rollups_app_install` ON `rollups` (`app_id`,`install_bucket`);