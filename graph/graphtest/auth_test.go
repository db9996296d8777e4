package graphtest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/graph/graphtest"
)

func credential(t *testing.T, s *graphtest.Server, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(s.Tenant().ID(), s.ClientID(), secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityURL()}, Transport: s.HTTPClient()},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func token(t *testing.T, cred azcore.TokenCredential, scope string) (string, error) {
	t.Helper()
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	return tok.Token, err
}

// TestRealCredentialAgainstAuthority: the real azidentity client-secret credential gets
// an Entra-shaped RS256 token from the fake authority, and Graph accepts only valid
// tokens meant for it.
func TestRealCredentialAgainstAuthority(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	s := graphtest.Start(t, tenant, graphtest.Options{})
	other := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10}), graphtest.Options{})

	cred, err := s.Credential()
	if err != nil {
		t.Fatal(err)
	}
	good, err := token(t, cred, s.URL()+"/.default")
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	var claims jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(good, &claims)
	if err != nil || parsed.Method.Alg() != "RS256" || parsed.Header["kid"] == nil {
		t.Fatalf("token is not an RS256 JWT with a kid: %v %v", err, parsed)
	}
	if claims["tid"] != tenant.ID() || claims["appid"] != s.ClientID() || claims["idtyp"] != "app" {
		t.Errorf("claims %v", claims)
	}
	graphAud, err := token(t, cred, "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	botAud, err := token(t, cred, "https://api.botframework.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	foreignCred, err := other.Credential()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := token(t, foreignCred, "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, auth string
		status     int
		says       string
	}{
		{"OK", "Bearer " + good, 200, ""},
		{"OKGraphAudience", "Bearer " + graphAud, 200, ""},
		{"ErrMissing", "", 401, "empty"},
		{"ErrNotBearer", "Basic " + good, 401, "empty"},
		{"ErrGarbage", "Bearer not-a-token", 401, "IDX14100"},
		{"ErrOtherAudience", "Bearer " + botAud, 401, "audience"},
		{"ErrOtherSigner", "Bearer " + foreign, 401, "signature"},
		{"ErrTampered", "Bearer " + good[:len(good)-4] + "AAAA", 401, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL()+"/v1.0/users/"+graphtest.AdeleUPN, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			e := decodeError(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, e, tt.status)
			}
			if tt.status == 401 && (e.Code != "InvalidAuthenticationToken" || !strings.Contains(e.Message, tt.says) || resp.Header.Get("WWW-Authenticate") == "") {
				t.Errorf("401 %+v, want InvalidAuthenticationToken saying %q", e, tt.says)
			}
		})
	}
}

func TestAuthorityRefusesBadClients(t *testing.T) {
	s := graphtest.Start(t, graphtest.NewTenant(), graphtest.Options{ClientID: "11111111-2222-3333-4444-555555555555", ClientSecret: "right"})
	tests := []struct {
		name, secret, scope, says string
	}{
		{"ErrSecret", "wrong", s.URL() + "/.default", "AADSTS7000215"},
		{"ErrScopeWithoutDefault", "right", s.URL() + "/User.Read.All", "AADSTS1002012"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token(t, credential(t, s, tt.secret), tt.scope)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %s", err, tt.says)
			}
		})
	}
	if got := s.Stats().TokensIssued; got != 0 {
		t.Errorf("%d tokens issued to bad clients", got)
	}
}
