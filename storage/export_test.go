package storage

import (
	"time"
)

// SetIDSource replaces the request id generator, to force collisions.
func SetIDSource(db *DB, f func() (string, error)) { db.newID = f }

// CanonicalID exposes canonicalID.
var CanonicalID = canonicalID

// AuditHash computes an entry's hash the way the store does, for tests that forge entries
// the way someone who knows the algorithm would.
func AuditHash(seq int64, at time.Time, requestID, typ, platform, actorID, actorName, entraID, detail, prevHash string) string {
	r := auditRow{seq: seq, time: fmtTime(at), requestID: requestID, typ: typ, platform: platform, actorID: actorID,
		actorName: actorName, entraID: entraID, detail: detail, prevHash: prevHash}
	return r.computeHash()
}

// FormatTime exposes the stored time format.
var FormatTime = fmtTime
