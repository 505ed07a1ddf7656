-- kamailio-compat.sql: the tables sipd reads and writes, laid out as Kamailio 5.x's
-- standard schema (version 1, subscriber 7, location 9, aliases 8), so sipd and
-- Kamailio can share one database. sql/README.md says what sipd uses and how.
--
-- Columns, types, defaults, keys and index names equal those that Kamailio's
-- own scripts (standard, auth_db, usrloc and registrar -create.sql) create;
-- test/unit/db/db_test.c checks that against the installed Kamailio files.
-- No character set is named: the tables take the database's default
-- (scripts/db creates the database as utf8mb4).

-- Which layout version each table has; Kamailio refuses to start on a
-- mismatch. sipd's usrloc checks the location (9) and aliases (8 or 9) rows
-- the same way when it has a database (db_check_version).
CREATE TABLE `version` (
    `id`            INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
    `table_name`    VARCHAR(32)      NOT NULL,
    `table_version` INT UNSIGNED     NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`),
    UNIQUE KEY `table_name_idx` (`table_name`)
);

-- Digest credentials: one row per (username, domain). sipd reads ha1 (MD5 of
-- user:realm:password), ha1b (MD5 of user@domain:realm:password) or the plain
-- password, as the auth module's options say.
CREATE TABLE `subscriber` (
    `id`       INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
    `username` VARCHAR(64)      NOT NULL DEFAULT '',
    `domain`   VARCHAR(64)      NOT NULL DEFAULT '',
    `password` VARCHAR(64)      NOT NULL DEFAULT '',
    `ha1`      VARCHAR(128)     NOT NULL DEFAULT '',
    `ha1b`     VARCHAR(128)     NOT NULL DEFAULT '',
    PRIMARY KEY (`id`),
    UNIQUE KEY `account_idx` (`username`, `domain`),
    KEY `username_idx` (`username`)
);

-- Registered contacts: one row per binding, identified by ruid. expires and
-- last_modified are UTC (see sql/README.md); server_id is the sipd node
-- that owns the binding.
CREATE TABLE `location` (
    `id`            INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
    `ruid`          VARCHAR(64)      NOT NULL DEFAULT '',
    `username`      VARCHAR(64)      NOT NULL DEFAULT '',
    `domain`        VARCHAR(64)               DEFAULT NULL,
    `contact`       VARCHAR(512)     NOT NULL DEFAULT '',
    `received`      VARCHAR(128)              DEFAULT NULL,
    `path`          VARCHAR(512)              DEFAULT NULL,
    `expires`       DATETIME         NOT NULL DEFAULT '2030-05-28 21:32:15',
    `q`             FLOAT(10,2)      NOT NULL DEFAULT 1.0,
    `callid`        VARCHAR(255)     NOT NULL DEFAULT 'Default-Call-ID',
    `cseq`          INT(11)          NOT NULL DEFAULT 1,
    `last_modified` DATETIME         NOT NULL DEFAULT '2000-01-01 00:00:01',
    `flags`         INT(11)          NOT NULL DEFAULT 0,
    `cflags`        INT(11)          NOT NULL DEFAULT 0,
    `user_agent`    VARCHAR(255)     NOT NULL DEFAULT '',
    `socket`        VARCHAR(64)               DEFAULT NULL,
    `methods`       INT(11)                   DEFAULT NULL,
    `instance`      VARCHAR(255)              DEFAULT NULL,
    `reg_id`        INT(11)          NOT NULL DEFAULT 0,
    `server_id`     INT(11)          NOT NULL DEFAULT 0,
    `connection_id` INT(11)          NOT NULL DEFAULT 0,
    `keepalive`     INT(11)          NOT NULL DEFAULT 0,
    `partition`     INT(11)          NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`),
    UNIQUE KEY `ruid_idx` (`ruid`),
    KEY `account_contact_idx` (`username`, `domain`, `contact`),
    KEY `expires_idx` (`expires`),
    KEY `tcpcon_idx` (`connection_id`),
    KEY `connection_idx` (`server_id`, `connection_id`)
);

-- Aliases in usrloc form (Kamailio's registrar table): username@domain is the
-- alias, contact the URI it stands for.
CREATE TABLE `aliases` (
    `id`            INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
    `ruid`          VARCHAR(64)      NOT NULL DEFAULT '',
    `username`      VARCHAR(64)      NOT NULL DEFAULT '',
    `domain`        VARCHAR(64)               DEFAULT NULL,
    `contact`       VARCHAR(255)     NOT NULL DEFAULT '',
    `received`      VARCHAR(255)              DEFAULT NULL,
    `path`          VARCHAR(512)              DEFAULT NULL,
    `expires`       DATETIME         NOT NULL DEFAULT '2030-05-28 21:32:15',
    `q`             FLOAT(10,2)      NOT NULL DEFAULT 1.0,
    `callid`        VARCHAR(255)     NOT NULL DEFAULT 'Default-Call-ID',
    `cseq`          INT(11)          NOT NULL DEFAULT 1,
    `last_modified` DATETIME         NOT NULL DEFAULT '2000-01-01 00:00:01',
    `flags`         INT(11)          NOT NULL DEFAULT 0,
    `cflags`        INT(11)          NOT NULL DEFAULT 0,
    `user_agent`    VARCHAR(255)     NOT NULL DEFAULT '',
    `socket`        VARCHAR(64)               DEFAULT NULL,
    `methods`       INT(11)                   DEFAULT NULL,
    `instance`      VARCHAR(255)              DEFAULT NULL,
    `reg_id`        INT(11)          NOT NULL DEFAULT 0,
    `server_id`     INT(11)          NOT NULL DEFAULT 0,
    `connection_id` INT(11)          NOT NULL DEFAULT 0,
    `keepalive`     INT(11)          NOT NULL DEFAULT 0,
    `partition`     INT(11)          NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`),
    UNIQUE KEY `ruid_idx` (`ruid`),
    KEY `account_contact_idx` (`username`, `domain`, `contact`),
    KEY `expires_idx` (`expires`)
);

INSERT INTO `version` (`table_name`, `table_version`) VALUES
    ('version', 1),
    ('subscriber', 7),
    ('location', 9),
    ('aliases', 8);
