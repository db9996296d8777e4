// Package jwks reads what an OpenID provider publishes for verifying its tokens: the JSON
// documents (metadata, key set) and, from the key set, the usable RSA signing keys. The
// Teams adapter (Bot Framework tokens) and the step-up sign-in (Entra ID tokens) share it,
// so that one rule decides which published key is trusted.
//
// It imports approvals (log keys) and the standard library only.
package jwks

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"

	"github.com/mfabot/mfabot/approvals"
)

// Limits on what is accepted from a provider.
const (
	MaxDocument = 1 << 20 // bytes of a metadata or key-set document
	MinRSABits  = 2048    // a shorter modulus is no key
)

// Key is one usable signing key of a key set.
type Key struct {
	ID     string
	Public *rsa.PublicKey
	// Endorsements are the channels the Bot Framework endorses the key for; nil when the
	// key set says nothing of them.
	Endorsements []string
}

// GetJSON reads the JSON document at u into v, at most MaxDocument bytes.
func GetJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, MaxDocument)).Decode(v)
}

// Fetch reads the key set at uri and returns its usable keys: RSA, with an id, for
// signatures (or of no stated use), with a modulus of at least MinRSABits. A key that fails
// those is logged and left out; a set with none is no error here (each caller says what
// that means to it).
func Fetch(ctx context.Context, client *http.Client, uri string, log *slog.Logger) ([]Key, error) {
	var set struct {
		Keys []struct {
			Kty          string    `json:"kty"`
			Use          string    `json:"use"`
			Kid          string    `json:"kid"`
			N            string    `json:"n"`
			E            string    `json:"e"`
			Endorsements *[]string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := GetJSON(ctx, client, uri, &set); err != nil {
		return nil, err
	}
	var keys []Key
	for _, jk := range set.Keys {
		if jk.Kty != "RSA" || jk.Kid == "" || (jk.Use != "" && jk.Use != "sig") {
			continue
		}
		pub, err := RSAKey(jk.N, jk.E)
		if err != nil {
			log.WarnContext(ctx, "skip signing key", "kid", jk.Kid, approvals.LogErr, err)
			continue
		}
		k := Key{ID: jk.Kid, Public: pub}
		if jk.Endorsements != nil {
			k.Endorsements = append([]string{}, (*jk.Endorsements)...)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// RSAKey builds a public key from a JWK's base64url modulus and exponent.
func RSAKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	n, e := new(big.Int).SetBytes(nb), new(big.Int).SetBytes(eb)
	if n.BitLen() < MinRSABits {
		return nil, fmt.Errorf("modulus of %d bits", n.BitLen())
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errors.New("bad exponent")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}
