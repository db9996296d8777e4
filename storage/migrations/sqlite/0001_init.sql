-- Times are UTC RFC 3339 with nine fractional digits ("2026-11-22T09:14:00.000000000Z"),
-- so they compare and sort correctly as text; '' means unset.
-- Request ids compare case-insensitively because people type them.

CREATE TABLE requests (
	id                 TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
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
	created_at         TEXT NOT NULL,
	expires_at         TEXT NOT NULL,
	-- The denier or canceller; denial_at IS NULL when there is none.
	denial_platform    TEXT NOT NULL DEFAULT '',
	denial_id          TEXT NOT NULL DEFAULT '',
	denial_name        TEXT NOT NULL DEFAULT '',
	denial_entra_id    TEXT NOT NULL DEFAULT '',
	denial_at          TEXT,
	denial_reason      TEXT NOT NULL DEFAULT '',
	closed_at          TEXT NOT NULL DEFAULT '',
	error              TEXT NOT NULL DEFAULT '',
	-- The executor holding a running request, and until when.
	lease_owner        TEXT NOT NULL DEFAULT '',
	lease_until        TEXT NOT NULL DEFAULT '',
	updated_at         TEXT NOT NULL
);
CREATE INDEX requests_state_created ON requests (state, created_at);
CREATE INDEX requests_created ON requests (created_at);

-- Approvals. The primary key is what makes "the same person approving twice" impossible,
-- whichever platform they click on: person_key is approvals.Actor.PersonKey.
CREATE TABLE decisions (
	request_id     TEXT NOT NULL COLLATE NOCASE REFERENCES requests (id),
	person_key     TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	actor_entra_id TEXT NOT NULL,
	at             TEXT NOT NULL,
	reason         TEXT NOT NULL,
	PRIMARY KEY (request_id, person_key)
);

CREATE TABLE items (
	request_id TEXT NOT NULL COLLATE NOCASE REFERENCES requests (id),
	seq        INTEGER NOT NULL,
	op         TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	arg        TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	error      TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL,
	PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;
-- Serves both the progress counts and "the pending items after seq N".
CREATE INDEX items_request_state ON items (request_id, state, seq);

CREATE TABLE message_refs (
	request_id TEXT NOT NULL COLLATE NOCASE REFERENCES requests (id),
	platform   TEXT NOT NULL,
	channel    TEXT NOT NULL,
	message_id TEXT NOT NULL,
	data       TEXT NOT NULL,
	UNIQUE (request_id, platform, channel, message_id)
);

-- The append-only, hash-chained audit log. seq runs 1, 2, 3… without gaps; see audit.go
-- for how hash is computed. request_id has no foreign key: the log must outlive anything.
CREATE TABLE audit (
	seq            INTEGER PRIMARY KEY,
	time           TEXT NOT NULL,
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

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- The last entry of the chain, updated in the transaction that appends. Without it,
-- deleting the newest entries would leave a chain that verifies.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
	SELECT RAISE(ABORT, 'audit head cannot be deleted');
END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id OR NEW.seq < OLD.seq
	OR NEW.hash IS NOT (SELECT hash FROM audit WHERE seq = NEW.seq)
BEGIN
	SELECT RAISE(ABORT, 'audit head only moves forward to an existing entry');
END;

-- Opaque conversation references (Teams proactive messaging, the summary poster).
CREATE TABLE conversations (
	platform   TEXT NOT NULL,
	id         TEXT NOT NULL,
	data       BLOB NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (platform, id)
);

-- One opaque enrollment snapshot per day ("2026-11-22").
CREATE TABLE snapshots (
	day        TEXT NOT NULL PRIMARY KEY,
	data       BLOB NOT NULL,
	updated_at TEXT NOT NULL
);

-- Once-only jobs: the first instance to insert (job, key) runs it.
CREATE TABLE job_runs (
	job         TEXT NOT NULL,
	key         TEXT NOT NULL,
	claimed_at  TEXT NOT NULL,
	finished_at TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (job, key)
);
