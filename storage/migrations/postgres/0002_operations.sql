-- What an item left behind when that is not obvious (the per-user MFA state Entra shows
-- after an enforce, the verification of a reset).
ALTER TABLE items ADD COLUMN result TEXT NOT NULL DEFAULT '';

-- One open request per kind and target: a second reset of the same user while the first
-- is pending, approved or running is refused by the database itself, whatever replica
-- or race asks.
CREATE UNIQUE INDEX requests_open_target ON requests (kind, target_id)
	WHERE state IN ('pending', 'approved', 'running');
