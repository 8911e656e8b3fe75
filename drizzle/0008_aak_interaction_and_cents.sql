-- The aggregates gain the dimension `ad_interaction_type` (AdAttributionKit) and keep revenue in
-- cents instead of micros (micros overflowed 64-bit integers for large revenue ranges). AAK rows get
-- the `fidelity_type` Apple's mapping gives (view 0, click 1). The old aggregate tables are dropped
-- rather than copied: their revenue cannot be converted exactly and their key lacks a column, so a
-- rebuild job recomputes them from the stored postbacks in the background (the Node server and the
-- Worker's cron run it in chunks; reports fill back in as it goes). drizzle-kit generated the tables;
-- WITHOUT ROWID is added by hand, as in 0006.
UPDATE `postbacks` SET `fidelity_type` = CASE `ad_interaction_type` WHEN 'view' THEN 0 WHEN 'click' THEN 1 END
  WHERE `protocol` = 'aak' AND `fidelity_type` IS NULL AND `ad_interaction_type` IS NOT NULL;
--> statement-breakpoint
DROP TABLE `rollup_events`;--> statement-breakpoint
DROP TABLE `rollups`;--> statement-breakpoint
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
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `ad_interaction_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`, `event`)
) WITHOUT ROWID;
--> statement-breakpoint
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
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `ad_interaction_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `rollups_app_install` ON `rollups` (`app_id`,`install_bucket`);--> statement-breakpoint
UPDATE `maintenance_jobs` SET `done_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE `kind` = 'rebuild' AND `done_at` IS NULL;
--> statement-breakpoint
INSERT INTO `maintenance_jobs` (`kind`, `cursor`, `until_id`, `created_at`)
  SELECT 'rebuild', 0, max(`id`), CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM `postbacks` HAVING count(*) > 0;
