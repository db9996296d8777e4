package teamstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TokenServer is a fake Entra authority for the bot's client-credentials flow, served over
// TLS on 127.0.0.1 because MSAL insists on https authorities. Point azidentity at it with
// AuthorityHost and an HTTP client from Client; instance discovery must be off (the
// adapter turns it off for hosts that are not Microsoft clouds).
type TokenServer struct {
	Tenant, ClientID, Secret string
	srv                      *httptest.Server

	mu       sync.Mutex
	issued   []string
	requests []map[string]string
}

// NewTokenServer starts a token endpoint for one tenant and one app. It stops when the
// test ends.
func NewTokenServer(tb testing.TB, tenant, clientID, secret string) *TokenServer {
	tb.Helper()
	t := &TokenServer{Tenant: tenant, ClientID: clientID, Secret: secret}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", t.serveDiscovery)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", t.serveToken)
	t.srv = httptest.NewTLSServer(mux)
	tb.Cleanup(t.srv.Close)
	return t
}

// AuthorityHost is the value for Config.AuthorityHost.
func (t *TokenServer) AuthorityHost() string { return t.srv.URL + "/" }

// Client is an HTTP client that trusts the server's certificate (and talks plain http to
// the other fakes).
func (t *TokenServer) Client() *http.Client { return t.srv.Client() }

// Issued lists the access tokens handed out.
func (t *TokenServer) Issued() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string{}, t.issued...)
}

// Requests lists the form fields of the token requests received (the client secret
// replaced by whether it was right).
func (t *TokenServer) Requests() []map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]map[string]string{}, t.requests...)
}

// Valid reports whether token was issued here.
func (t *TokenServer) Valid(token string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.issued {
		if s == token {
			return true
		}
	}
	return false
}

func (t *TokenServer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	base := t.srv.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/v2.0",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
		"response_types_supported":              []string{"code", "id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (t *TokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	f := map[string]string{
		"tenant":        r.PathValue("tenant"),
		"grant_type":    r.PostForm.Get("grant_type"),
		"client_id":     r.PostForm.Get("client_id"),
		"scope":         resourceScope(r.PostForm.Get("scope")),
		"secret_is_set": fmt.Sprint(r.PostForm.Get("client_secret") == t.Secret),
	}
	t.mu.Lock()
	t.requests = append(t.requests, f)
	t.mu.Unlock()
	switch {
	case f["tenant"] != t.Tenant:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "AADSTS90002: tenant not found"})
	case f["grant_type"] != "client_credentials" || f["client_id"] != t.ClientID || f["secret_is_set"] != "true":
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: invalid client secret"})
	case f["scope"] != "https://api.botframework.com/.default":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope"})
	default:
		t.mu.Lock()
		tok := fmt.Sprintf("fake-bf-token-%d", len(t.issued)+1)
		t.issued = append(t.issued, tok)
		t.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": tok,
		})
	}
}

// resourceScope returns the resource scope of a scope parameter, leaving out the OpenID
// scopes MSAL adds to every request (Entra ignores them for client credentials); a
// parameter with more than one resource scope yields "".
func resourceScope(param string) string {
	var res string
	for _, s := range strings.Fields(param) {
		switch s {
		case "openid", "offline_access", "profile":
		default:
			if res != "" {
				return ""
			}
			res = s
		}
	}
	return res
}
