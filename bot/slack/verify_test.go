package slack

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// Slack's own example from "Verifying requests from Slack".
const (
	exampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleTimestamp = "1531420618"
	exampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	exampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)

func TestVerifySignatureSlackExample(t *testing.T) {
	t.Parallel()
	at := time.Unix(1531420618, 0)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, sig)
		return h
	}
	tests := []struct {
		name   string
		secret string
		now    time.Time
		h      http.Header
		body   string
		want   error
	}{
		{"OK", exampleSecret, at, header(exampleTimestamp, exampleSignature), exampleBody, nil},
		{"OKWithinWindow", exampleSecret, at.Add(4 * time.Minute), header(exampleTimestamp, exampleSignature), exampleBody, nil},
		{"ErrStale", exampleSecret, at.Add(5*time.Minute + time.Second), header(exampleTimestamp, exampleSignature), exampleBody, errStale},
		{"ErrFromTheFuture", exampleSecret, at.Add(-6 * time.Minute), header(exampleTimestamp, exampleSignature), exampleBody, errStale},
		{"ErrTamperedBody", exampleSecret, at, header(exampleTimestamp, exampleSignature), exampleBody + "&text=reset", errBadSignature},
		{"ErrWrongSecret", "another-secret", at, header(exampleTimestamp, exampleSignature), exampleBody, errBadSignature},
		{"ErrTimestampSwapped", exampleSecret, at, header("1531420619", exampleSignature), exampleBody, errBadSignature},
		{"ErrNoVersion", exampleSecret, at, header(exampleTimestamp, exampleSignature[3:]), exampleBody, errBadSignature},
		{"ErrMissingHeaders", exampleSecret, at, http.Header{}, exampleBody, errNoSignature},
		{"ErrNoSecretConfigured", "", at, header(exampleTimestamp, exampleSignature), exampleBody, errNoSecret},
		{"ErrBadTimestamp", exampleSecret, at, header("yesterday", exampleSignature), exampleBody, errBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifySignature(tt.secret, tt.now, tt.h, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("verifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}
