-- Destinations whose URL carries credentials (user:password@) can never deliver: fetch refuses such
-- URLs, and the password showed wherever the URL did. The API now refuses them; existing ones are
-- disabled here with the reason in `last_error` (the API shows their URL with the password masked).
ALTER TABLE `destinations` ADD `last_error` text;
--> statement-breakpoint
UPDATE `destinations`
  SET `enabled` = 0,
      `last_error` = 'disabled by an upgrade: the URL carries credentials (user:password@), which fetch refuses; send them in a header (Authorization) and save the URL without them',
      `updated_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000
  WHERE instr(`url`, '://') > 0
    AND instr(substr(`url`, instr(`url`, '://') + 3), '@') > 0
    AND (instr(substr(`url`, instr(`url`, '://') + 3), '/') = 0 OR instr(substr(`url`, instr(`url`, '://') + 3), '@') < instr(substr(`url`, instr(`url`, '://') + 3), '/'))
    AND (instr(substr(`url`, instr(`url`, '://') + 3), '?') = 0 OR instr(substr(`url`, instr(`url`, '://') + 3), '@') < instr(substr(`url`, instr(`url`, '://') + 3), '?'))
    AND (instr(substr(`url`, instr(`url`, '://') + 3), '#') = 0 OR instr(substr(`url`, instr(`url`, '://') + 3), '@') < instr(substr(`url`, instr(`url`, '://') + 3), '#'));
--> statement-breakpoint
-- Servers keep destinations in memory until the settings revision moves.
UPDATE `settings_revision` SET `revision` = `revision` + 1;
