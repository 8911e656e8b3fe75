-- Workers sharded by app (docs/workers.md, "At scale"): the shard map, and the link from a shard's
-- copy of a re-derive job to the job queued in DB. Every app already stored is where its data is:
-- on this database, shard 0 (bind SHARD_0 to it when adding shards).
CREATE TABLE `app_shards` (
	`app_id` integer PRIMARY KEY NOT NULL,
	`shard` integer NOT NULL,
	`placed_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `app_shards_shard` ON `app_shards` (`shard`);--> statement-breakpoint
ALTER TABLE `maintenance_jobs` ADD `origin_job_id` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `maintenance_jobs_origin_job_id_unique` ON `maintenance_jobs` (`origin_job_id`);--> statement-breakpoint
INSERT INTO `app_shards` (`app_id`, `shard`, `placed_at`)
SELECT DISTINCT `app_id`, 0, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM (
	SELECT `app_id` FROM `rollups` UNION SELECT `app_id` FROM `mmp_rollups` UNION SELECT `app_id` FROM `clicks` UNION SELECT `app_id` FROM `reported_figures`
) WHERE `app_id` IS NOT NULL;