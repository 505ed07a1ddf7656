-- sipd-extras.sql: optional columns sipd uses when present, beyond Kamailio's
-- layout (kamailio-compat.sql stays equal to Kamailio's schema; a test checks).
-- Kamailio ignores extra columns, so a database with these still serves it.
-- Apply once: mariadb ser < sql/sipd-extras.sql (a second run fails: the
-- column exists).

-- The subscriber's email address, as SER's serctl stored it ("serctl add
-- 1000 password1 user1@nowhere.com"). sipctl add writes it here when the
-- column exists and warns that it was not stored otherwise.
ALTER TABLE `subscriber` ADD COLUMN IF NOT EXISTS `email_address` VARCHAR(128) NOT NULL DEFAULT '';
