-- Events of an MMP install find it by click ID: an index, so that lookup is not a scan of every MMP postback.
CREATE INDEX `mmp_postbacks_click` ON `mmp_postbacks` (`click_id`);