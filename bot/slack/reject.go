package slack

import (
	"errors"
)

// Reasons a request is refused before it is parsed, as Config.OnReject is told them: a
// fixed, small set.
const (
	RejectNoSecret     = "no_secret"     // no signing secret configured: every request is refused
	RejectNoSignature  = "no_signature"  // the signature headers are missing
	RejectBadTimestamp = "bad_timestamp" // the timestamp is not a number of seconds
	RejectStale        = "stale"         // the timestamp is outside the 5-minute window
	RejectBadSignature = "bad_signature" // the signature does not match
	RejectTooLarge     = "too_large"     // the body is over the limit
	RejectUnreadable   = "unreadable"    // the body could not be read (cut off, too slow)
)

// signatureReason classifies an error of verifySignature.
func signatureReason(err error) string {
	switch {
	case errors.Is(err, errNoSecret):
		return RejectNoSecret
	case errors.Is(err, errNoSignature):
		return RejectNoSignature
	case errors.Is(err, errBadTimestamp):
		return RejectBadTimestamp
	case errors.Is(err, errStale):
		return RejectStale
	}
	return RejectBadSignature
}
