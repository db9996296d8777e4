-- Step-up sign-ins in progress (bot/stepup): one-time links bound to one approver, one
-- request and one decision. Only hashes of the secrets are kept: the link's token (id), the
-- OAuth state and the browser's binding cookie. Starting and finishing are each one
-- conditional UPDATE, so a link starts one sign-in and a sign-in comes back once. The audit
-- log keeps what matters for good (the demand, the approval with its evidence, refusals);
-- rows here are pruned a day after their link expired.
CREATE TABLE stepup_challenges (
	id             TEXT NOT NULL PRIMARY KEY,
	request_id     TEXT NOT NULL COLLATE NOCASE,
	decision       TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	actor_entra_id TEXT NOT NULL,
	created_at     TEXT NOT NULL,
	expires_at     TEXT NOT NULL,
	started_at     TEXT NOT NULL DEFAULT '',
	state_hash     TEXT UNIQUE,
	binding_hash   TEXT NOT NULL DEFAULT '',
	nonce          TEXT NOT NULL DEFAULT '',
	verifier       TEXT NOT NULL DEFAULT '',
	finished_at    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stepup_challenges_expires ON stepup_challenges (expires_at);
