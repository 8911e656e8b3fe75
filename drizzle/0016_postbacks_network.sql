-- Listings by network read postbacks_network (network, id) in order; the index by (network,
-- transaction id) it replaces served no query and cost every insert (BENCHMARKS.md, issue #17).
DROP INDEX `postbacks_transaction`;--> statement-breakpoint
CREATE INDEX `postbacks_network` ON `postbacks` (`ad_network_id`,`id`);