package jwks_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mfabot/mfabot/bot/jwks"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Only RSA signing keys with an id and a modulus of 2,048 bits or more are kept.
func TestFetchKeepsUsableKeys(t *testing.T) {
	t.Parallel()
	good, _ := rsa.GenerateKey(rand.Reader, 2048)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	e := b64(big.NewInt(int64(good.E)).Bytes())
	set := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "use": "sig", "kid": "good", "n": b64(good.N.Bytes()), "e": e, "endorsements": []string{"msteams"}},
		{"kty": "RSA", "kid": "no-use", "n": b64(good.N.Bytes()), "e": e},
		{"kty": "RSA", "use": "sig", "kid": "weak", "n": b64(weak.N.Bytes()), "e": e},
		{"kty": "RSA", "use": "enc", "kid": "enc", "n": b64(good.N.Bytes()), "e": e},
		{"kty": "EC", "use": "sig", "kid": "ec"},
		{"kty": "RSA", "use": "sig", "n": b64(good.N.Bytes()), "e": e},
		{"kty": "RSA", "use": "sig", "kid": "bad-e", "n": b64(good.N.Bytes()), "e": b64([]byte{1})},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(set) }))
	defer srv.Close()
	keys, err := jwks.Fetch(context.Background(), srv.Client(), srv.URL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "good" || keys[1].ID != "no-use" {
		t.Fatalf("kept %+v", keys)
	}
	if keys[0].Public.N.Cmp(good.N) != 0 || len(keys[0].Endorsements) != 1 || keys[1].Endorsements != nil {
		t.Fatalf("key content %+v", keys)
	}
}
