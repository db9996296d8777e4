-- The PostgreSQL schema: the same tables, keys and rules as ../sqlite/0001_init.sql, so
-- that mfabot behaves the same on both engines. Each migration has the same number on
-- both.
--
-- Times are the same text as on SQLite, UTC RFC 3339 with nine fractional digits
-- ("2026-11-22T09:14:00.000000000Z"), compared byte by byte (COLLATE "C") so that they
-- sort as times whatever the database's collation; '' means unset. The audit hash covers
-- that text, so the chain is computed the same way on both engines.
-- Request ids compare case-insensitively because people type them (SQLite's NOCASE).
CREATE COLLATION mfabot_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE requests (
	id                 TEXT COLLATE mfabot_nocase NOT NULL PRIMARY KEY,
	kind               TEXT NOT NULL,
	state              TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'running', 'succeeded',
	                       'partly_failed', 'failed', 'denied', 'expired', 'cancelled')),
	requester_platform TEXT NOT NULL,
	requester_id       TEXT NOT NULL,
	requester_name     TEXT NOT NULL,
	requester_entra_id TEXT NOT NULL,
	target_type        TEXT NOT NULL,
	target_id          TEXT NOT NULL,
	target_name        TEXT NOT NULL,
	preview            TEXT NOT NULL, -- JSON of approvals.Preview
	reason             TEXT NOT NULL,
	created_at         TEXT COLLATE "C" NOT NULL,
	expires_at         TEXT COLLATE "C" NOT NULL,
	-- The denier or canceller; denial_at IS NULL when there is none.
	denial_platform    TEXT NOT NULL DEFAULT '',
	denial_id          TEXT NOT NULL DEFAULT '',
	denial_name        TEXT NOT NULL DEFAULT '',
	denial_entra_id    TEXT NOT NULL DEFAULT '',
	denial_at          TEXT COLLATE "C",
	denial_reason      TEXT NOT NULL DEFAULT '',
	closed_at          TEXT COLLATE "C" NOT NULL DEFAULT '',
	error              TEXT NOT NULL DEFAULT '',
	-- The executor holding a running request, and until when.
	lease_owner        TEXT NOT NULL DEFAULT '',
	lease_until        TEXT COLLATE "C" NOT NULL DEFAULT '',
	updated_at         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX requests_state_created ON requests (state, created_at);
CREATE INDEX requests_created ON requests (created_at);

-- Approvals. The primary key is what makes "the same person approving twice" impossible,
-- whichever platform they click on: person_key is approvals.Actor.PersonKey. rowid keeps
-- the order of insertion, as SQLite's implicit column of that name does, so that the
-- same queries read both.
CREATE TABLE decisions (
	request_id     TEXT COLLATE mfabot_nocase NOT NULL REFERENCES requests (id),
	person_key     TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	actor_entra_id TEXT NOT NULL,
	at             TEXT COLLATE "C" NOT NULL,
	reason         TEXT NOT NULL,
	rowid          BIGINT GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (request_id, person_key)
);

CREATE TABLE items (
	request_id TEXT COLLATE mfabot_nocase NOT NULL REFERENCES requests (id),
	seq        INTEGER NOT NULL,
	op         TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	arg        TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	error      TEXT NOT NULL DEFAULT '',
	updated_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (request_id, seq)
);
-- Serves both the progress counts and "the pending items after seq N".
CREATE INDEX items_request_state ON items (request_id, state, seq);

CREATE TABLE message_refs (
	request_id TEXT COLLATE mfabot_nocase NOT NULL REFERENCES requests (id),
	platform   TEXT NOT NULL,
	channel    TEXT NOT NULL,
	message_id TEXT NOT NULL,
	data       TEXT NOT NULL,
	rowid      BIGINT GENERATED ALWAYS AS IDENTITY,
	UNIQUE (request_id, platform, channel, message_id)
);

-- The append-only, hash-chained audit log. seq runs 1, 2, 3… without gaps; see audit.go
-- for how hash is computed and how appends are serialised (an advisory lock). request_id
-- has no foreign key: the log must outlive anything.
CREATE TABLE audit (
	seq            BIGINT PRIMARY KEY,
	time           TEXT COLLATE "C" NOT NULL,
	request_id     TEXT NOT NULL,
	type           TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	actor_entra_id TEXT NOT NULL,
	detail         TEXT NOT NULL,
	prev_hash      TEXT NOT NULL,
	hash           TEXT NOT NULL
);
CREATE INDEX audit_request ON audit (request_id);

CREATE FUNCTION mfabot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
	FOR EACH ROW EXECUTE FUNCTION mfabot_audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION mfabot_audit_append_only();
-- TRUNCATE skips row triggers: refused on its own.
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION mfabot_audit_append_only();

-- The last entry of the chain, updated in the transaction that appends. Without it,
-- deleting the newest entries would leave a chain that verifies.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE FUNCTION mfabot_audit_head_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit head cannot be deleted';
END
$$;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
	FOR EACH ROW EXECUTE FUNCTION mfabot_audit_head_fixed();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
	FOR EACH STATEMENT EXECUTE FUNCTION mfabot_audit_head_fixed();

-- The head only moves forward, to an entry that exists. The function reads audit in the
-- schema it was created in, whatever the session's search_path.
CREATE FUNCTION mfabot_audit_head_forward() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
	IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq < OLD.seq
		OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit WHERE seq = NEW.seq) THEN
		RAISE EXCEPTION 'audit head only moves forward to an existing entry';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
	FOR EACH ROW EXECUTE FUNCTION mfabot_audit_head_forward();

-- Opaque conversation references (Teams proactive messaging, the summary poster).
CREATE TABLE conversations (
	platform   TEXT COLLATE "C" NOT NULL,
	id         TEXT COLLATE "C" NOT NULL,
	data       BYTEA NOT NULL,
	updated_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (platform, id)
);

-- One opaque enrollment snapshot per day ("2026-11-22").
CREATE TABLE snapshots (
	day        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	data       BYTEA NOT NULL,
	updated_at TEXT COLLATE "C" NOT NULL
);

-- Once-only jobs: the first instance to insert (job, key) runs it.
CREATE TABLE job_runs (
	job         TEXT NOT NULL,
	key         TEXT NOT NULL,
	claimed_at  TEXT COLLATE "C" NOT NULL,
	finished_at TEXT COLLATE "C" NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (job, key)
);
