-- The aggregates, clustered: the rollup key becomes the primary key of WITHOUT ROWID tables, app
-- and arrival time first (drizzle-kit generated the rest; it cannot declare WITHOUT ROWID). One
-- B-tree instead of a table plus a unique index makes each upsert cheaper, and a report reads one
-- app's days from neighbouring pages. On a large database this copy takes a while at start.
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
	`count_max` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`, `event`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollup_events`("arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "event", "postbacks", "count_min", "count_max") SELECT "arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "event", "postbacks", "count_min", "count_max" FROM `rollup_events`;--> statement-breakpoint
DROP TABLE `rollup_events`;--> statement-breakpoint
ALTER TABLE `__new_rollup_events` RENAME TO `rollup_events`;--> statement-breakpoint
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
	`revenue_max_micros` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `arrival_bucket`, `install_bucket`, `protocol`, `environment`, `signature`, `ad_network_id`, `campaign`, `campaign_name`, `source_identifier`, `window`, `fidelity_type`, `redownload`, `did_win`, `version`, `conversion_type`, `country_code`, `conversion_value`, `coarse_conversion_value`, `source_app_id`, `source_domain`, `currency`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollups`("arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "postbacks", "verified", "installs", "redownloads", "reengagements", "non_winning", "window_0", "window_1", "window_2", "null_values", "coarse_low", "coarse_medium", "coarse_high", "conflicts", "invalid", "unverifiable", "revenue_min_micros", "revenue_max_micros") SELECT "arrival_bucket", "install_bucket", "protocol", "environment", "signature", "ad_network_id", "app_id", "campaign", "campaign_name", "source_identifier", "window", "fidelity_type", "redownload", "did_win", "version", "conversion_type", "country_code", "conversion_value", "coarse_conversion_value", "source_app_id", "source_domain", "currency", "postbacks", "verified", "installs", "redownloads", "reengagements", "non_winning", "window_0", "window_1", "window_2", "null_values", "coarse_low", "coarse_medium", "coarse_high", "conflicts", "invalid", "unverifiable", "revenue_min_micros", "revenue_max_micros" FROM `rollups`;--> statement-breakpoint
DROP TABLE `rollups`;--> statement-breakpoint
ALTER TABLE `__new_rollups` RENAME TO `rollups`;--> statement-breakpoint
CREATE INDEX `rollups_app_install` ON `rollups` (`app_id`,`install_bucket`);--> statement-breakpoint
CREATE INDEX `rollups_arrival` ON `rollups` (`arrival_bucket`);--> statement-breakpoint
CREATE INDEX `rollups_install` ON `rollups` (`install_bucket`);