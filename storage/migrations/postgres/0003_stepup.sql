-- Step-up sign-ins in progress (bot/stepup): as ../sqlite/0003_stepup.sql. Only hashes of
-- the secrets are kept; starting and finishing are each one conditional UPDATE, so a link
-- starts one sign-in and a sign-in comes back once, whichever replica the browser reaches.
CREATE TABLE stepup_challenges (
	id             TEXT NOT NULL PRIMARY KEY,
	request_id     TEXT COLLATE mfabot_nocase NOT NULL,
	decision       TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	actor_entra_id TEXT NOT NULL,
	created_at     TEXT COLLATE "C" NOT NULL,
	expires_at     TEXT COLLATE "C" NOT NULL,
	started_at     TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_hash     TEXT UNIQUE,
	binding_hash   TEXT NOT NULL DEFAULT '',
	nonce          TEXT NOT NULL DEFAULT '',
	verifier       TEXT NOT NULL DEFAULT '',
	finished_at    TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX stepup_challenges_expires ON stepup_challenges (expires_at);
