-- Until this migration, the Node writer stored an absent boolean field as 0 (false) and an absent
-- decode as the JSON text 'null'. A SKAN postback without `did-win` (versions before 3.0) then
-- counted as lost instead of won. Put back NULL where the body has no such field, and rebuild the
-- aggregates from the corrected rows (the server runs the rebuild job in the background).
UPDATE `postbacks` SET `did_win` = NULL WHERE `did_win` = 0 AND `protocol` = 'skan' AND json_type(`body`, '$."did-win"') IS NULL;
--> statement-breakpoint
UPDATE `postbacks` SET `redownload` = NULL WHERE `redownload` = 0 AND (`protocol` = 'aak' OR json_type(`body`, '$.redownload') IS NULL);
--> statement-breakpoint
UPDATE `postbacks` SET `decode` = NULL WHERE `decode` = 'null';
--> statement-breakpoint
DELETE FROM `rollups` WHERE EXISTS (SELECT 1 FROM `postbacks`);
--> statement-breakpoint
DELETE FROM `rollup_events` WHERE EXISTS (SELECT 1 FROM `postbacks`);
--> statement-breakpoint
UPDATE `maintenance_jobs` SET `done_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE `kind` = 'rebuild' AND `done_at` IS NULL AND EXISTS (SELECT 1 FROM `postbacks`);
--> statement-breakpoint
INSERT INTO `maintenance_jobs` (`kind`, `cursor`, `until_id`, `created_at`)
  SELECT 'rebuild', 0, max(`id`), CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM `postbacks` HAVING count(*) > 0;
