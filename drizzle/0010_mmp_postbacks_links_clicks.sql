-- MMP postbacks (issue #13): tracking links, the click log, MMP partners, MMP postbacks and their
-- aggregates (WITHOUT ROWID, clustered by app and time as the Apple aggregates are, added by hand).
-- The outbox `deliveries` now also carries MMP postbacks and impressions: its postback and
-- destination become optional, which SQLite can only do by copying the table (on a database with
-- millions of deliveries this copy takes a while at start; on D1 see docs/workers.md). drizzle-kit
-- generated the rest; its copy named the two new columns in the old table, corrected to NULL.
CREATE TABLE `clicks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`click_id` text NOT NULL,
	`link_id` integer NOT NULL,
	`app_id` integer NOT NULL,
	`touch` text NOT NULL,
	`clicked_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`imported` integer NOT NULL,
	`sub1` text,
	`sub2` text,
	`sub3` text,
	`sub4` text,
	`sub5` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clicks_click_id_unique` ON `clicks` (`click_id`);--> statement-breakpoint
CREATE INDEX `clicks_expires` ON `clicks` (`expires_at`);--> statement-breakpoint
CREATE TABLE `links` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`app_id` integer NOT NULL,
	`ad_network_id` text NOT NULL,
	`network_campaign_id` text NOT NULL,
	`mmp_partner_id` integer NOT NULL,
	`target_url` text NOT NULL,
	`impression_url` text,
	`click_lookback_days` integer NOT NULL,
	`view_lookback_hours` integer NOT NULL,
	`enabled` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `mmp_partners` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`preset` text NOT NULL,
	`params` text NOT NULL,
	`allowlist` text,
	`timestamp_format` text,
	`revenue_unit` text NOT NULL,
	`token_sha256` text NOT NULL,
	`previous_token_sha256` text,
	`previous_token_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `mmp_postbacks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`partner_id` integer NOT NULL,
	`received_at` integer NOT NULL,
	`outcome` text NOT NULL,
	`reasons` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`raw` text NOT NULL,
	`click_id` text,
	`link_id` integer,
	`app_id` integer,
	`ad_network_id` text,
	`network_campaign_id` text,
	`campaign` text,
	`sub1` text,
	`sub2` text,
	`sub3` text,
	`sub4` text,
	`sub5` text,
	`event_name` text NOT NULL,
	`event_id` text,
	`event_value` text,
	`revenue` real,
	`currency` text,
	`event_time` integer NOT NULL,
	`install_time` integer,
	`click_time` integer,
	`touch_type` text,
	`is_reattribution` integer NOT NULL,
	`attributed` integer NOT NULL,
	`rejected` integer NOT NULL,
	`reject_reason` text,
	`country_code` text,
	`os` text,
	`ctit_seconds` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mmp_postbacks_dedupe_key_unique` ON `mmp_postbacks` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `mmp_postbacks_app` ON `mmp_postbacks` (`app_id`,`id`);--> statement-breakpoint
CREATE INDEX `mmp_postbacks_received_at` ON `mmp_postbacks` (`received_at`);--> statement-breakpoint
CREATE TABLE `mmp_rollups` (
	`app_id` integer NOT NULL,
	`arrival_bucket` integer NOT NULL,
	`event_bucket` integer NOT NULL,
	`click_bucket` integer NOT NULL,
	`ad_network_id` text NOT NULL,
	`link_id` integer NOT NULL,
	`network_campaign_id` text NOT NULL,
	`campaign` text NOT NULL,
	`mmp_partner_id` integer NOT NULL,
	`event` text NOT NULL,
	`touch_type` text NOT NULL,
	`country_code` text NOT NULL,
	`sub1` text NOT NULL,
	`currency` text NOT NULL,
	`clicks` integer DEFAULT 0 NOT NULL,
	`impressions` integer DEFAULT 0 NOT NULL,
	`installs` integer DEFAULT 0 NOT NULL,
	`reattributions` integer DEFAULT 0 NOT NULL,
	`events` integer DEFAULT 0 NOT NULL,
	`revenue_cents` integer DEFAULT 0 NOT NULL,
	`unattributed` integer DEFAULT 0 NOT NULL,
	`fraud_rejected` integer DEFAULT 0 NOT NULL,
	`rejected` integer DEFAULT 0 NOT NULL,
	`ctit_under_10s` integer DEFAULT 0 NOT NULL,
	`ctit_10s_1m` integer DEFAULT 0 NOT NULL,
	`ctit_1m_1h` integer DEFAULT 0 NOT NULL,
	`ctit_1h_24h` integer DEFAULT 0 NOT NULL,
	`ctit_over_24h` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `arrival_bucket`, `event_bucket`, `click_bucket`, `ad_network_id`, `link_id`, `network_campaign_id`, `campaign`, `mmp_partner_id`, `event`, `touch_type`, `country_code`, `sub1`, `currency`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `server_secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`postback_id` integer,
	`mmp_postback_id` integer,
	`click_row_id` integer,
	`destination_id` integer,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`claimed_until` integer,
	`last_status` integer,
	`last_error` text,
	`last_latency_ms` integer,
	`created_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
INSERT INTO `__new_deliveries`("id", "postback_id", "mmp_postback_id", "click_row_id", "destination_id", "state", "attempts", "next_attempt_at", "claimed_until", "last_status", "last_error", "last_latency_ms", "created_at", "delivered_at") SELECT "id", "postback_id", NULL, NULL, "destination_id", "state", "attempts", "next_attempt_at", "claimed_until", "last_status", "last_error", "last_latency_ms", "created_at", "delivered_at" FROM `deliveries`;--> statement-breakpoint
DROP TABLE `deliveries`;--> statement-breakpoint
ALTER TABLE `__new_deliveries` RENAME TO `deliveries`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_postback_destination` ON `deliveries` (`postback_id`,`destination_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_mmp_postback_destination` ON `deliveries` (`mmp_postback_id`,`destination_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_click` ON `deliveries` (`click_row_id`);--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_destination` ON `deliveries` (`destination_id`,`state`);