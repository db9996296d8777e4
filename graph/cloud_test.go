package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// fakeCloud answers every host without a network: the token authority's instance
// discovery, OpenID configuration and token endpoint in Microsoft's wire format (as MSAL
// reads them), and Graph's user and member endpoints. It records every request.
type fakeCloud struct {
	t        *testing.T
	tenant   string
	nextHost string // where the member list's nextLink points

	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method, url, auth, scope string
}

func (f *fakeCloud) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{r.Method, r.URL.String(), r.Header.Get("Authorization"), form.Get("scope")})
	f.mu.Unlock()
	host, path := r.URL.Host, r.URL.Path
	authority := "https://" + host + "/" + f.tenant
	var out any
	switch {
	case path == "/common/discovery/instance":
		out = map[string]any{"tenant_discovery_endpoint": authority + "/v2.0/.well-known/openid-configuration", "api-version": "1.1",
			"metadata": []any{map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}}}
	case path == "/"+f.tenant+"/v2.0/.well-known/openid-configuration":
		out = map[string]any{"authorization_endpoint": authority + "/oauth2/v2.0/authorize", "token_endpoint": authority + "/oauth2/v2.0/token",
			"issuer": authority + "/v2.0", "jwks_uri": authority + "/discovery/v2.0/keys"}
	case path == "/"+f.tenant+"/oauth2/v2.0/token" && r.Method == http.MethodPost:
		out = map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "token-from-" + host}
	case strings.HasPrefix(path, "/v1.0/users/"):
		out = map[string]any{"id": strings.TrimPrefix(path, "/v1.0/users/"), "userPrincipalName": "ann@contoso.us", "displayName": "Ann", "userType": "Member", "accountEnabled": true}
	case strings.HasPrefix(path, "/v1.0/groups/") && r.URL.Query().Get("$skiptoken") == "":
		out = map[string]any{"value": []any{map[string]any{"@odata.type": "#microsoft.graph.user", "id": "11111111-1111-4111-8111-111111111111", "userPrincipalName": "a@contoso.us"}},
			"@odata.nextLink": "https://" + f.nextHost + path + "?$skiptoken=page2"}
	case strings.HasPrefix(path, "/v1.0/groups/"):
		out = map[string]any{"value": []any{}}
	default:
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	b, _ := json.Marshal(out)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(b)), Body: io.NopCloser(strings.NewReader(string(b))), Request: r}, nil
}

// TestClouds: in each cloud the token comes from that cloud's authority for that cloud's
// Graph, and goes to that Graph only: a nextLink to another cloud's Graph (for a national
// cloud, the public one) is followed without it.
func TestClouds(t *testing.T) {
	t.Parallel()
	const tenant = "6f1c8e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		name, graphHost, authorityHost, otherGraph string
	}{
		{"public", "graph.microsoft.com", "login.microsoftonline.com", "graph.microsoft.us"},
		{"usgov", "graph.microsoft.us", "login.microsoftonline.us", "graph.microsoft.com"},
		{"usgovdod", "dod-graph.microsoft.us", "login.microsoftonline.us", "graph.microsoft.com"},
		{"china", "microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn", "graph.microsoft.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud, err := graph.LookupCloud(strings.ToUpper(tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if cloud.GraphURL != "https://"+tt.graphHost || cloud.AuthorityHost != "https://"+tt.authorityHost+"/" || cloud.Scope() != "https://"+tt.graphHost+"/.default" {
				t.Fatalf("cloud %+v", cloud)
			}
			fake := &fakeCloud{t: t, tenant: tenant, nextHost: tt.otherGraph}
			hc := &http.Client{Transport: fake}
			cred, err := graph.NewCredential(graph.CredentialOptions{TenantID: tenant, ClientID: "5e8f2c1a-7b3d-4c9e-8f6a-1d2b3c4d5e6f",
				ClientSecret: "secret", Cloud: cloud, HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			c, err := graph.New(graph.Config{TenantID: tenant, Cloud: cloud, Credential: cred, HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if u, err := c.ResolveUser(ctx, "22222222-2222-4222-8222-222222222222"); err != nil || u.UPN != "ann@contoso.us" {
				t.Fatalf("resolve: %+v %v", u, err)
			}
			members := 0
			if err := c.GroupMembers(ctx, "33333333-3333-4333-8333-333333333333", func(us []approvals.User) error {
				members += len(us)
				return nil
			}); err != nil || members != 1 {
				t.Fatalf("members %d: %v", members, err)
			}

			tokens, followed := 0, false
			for _, r := range fake.reqs {
				u, _ := url.Parse(r.url)
				switch u.Host {
				case tt.authorityHost:
					if strings.HasSuffix(u.Path, "/oauth2/v2.0/token") {
						tokens++
						// MSAL adds the OpenID Connect scopes to every request.
						var resources []string
						for _, sc := range strings.Fields(r.scope) {
							if sc != "openid" && sc != "offline_access" && sc != "profile" {
								resources = append(resources, sc)
							}
						}
						if len(resources) != 1 || resources[0] != cloud.Scope() {
							t.Errorf("token asked for scope %q, want %q", r.scope, cloud.Scope())
						}
					}
				case tt.graphHost:
					if r.auth != "Bearer token-from-"+tt.authorityHost {
						t.Errorf("%s %s carried %q", r.method, r.url, r.auth)
					}
				case tt.otherGraph:
					followed = true
					if r.auth != "" {
						t.Errorf("the token went to %s: %s %q", tt.otherGraph, r.url, r.auth)
					}
				default:
					t.Errorf("request to %s, outside the cloud: %s %s", u.Host, r.method, r.url)
				}
			}
			if tokens != 1 || !followed {
				t.Fatalf("%d token requests, nextLink followed %v: %+v", tokens, followed, fake.reqs)
			}
		})
	}
}

// TestLookupCloud: names in any case, "" for the public cloud, an error naming the known
// ones otherwise; an explicit BaseURL wins over the cloud's Graph.
func TestLookupCloud(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]graph.Cloud{"": graph.CloudPublic, " China ": graph.CloudChina, "USGovDoD": graph.CloudUSGovDoD} {
		if got, err := graph.LookupCloud(name); err != nil || got != want {
			t.Errorf("LookupCloud(%q) = %+v, %v", name, got, err)
		}
	}
	if _, err := graph.LookupCloud("germany"); err == nil || !strings.Contains(err.Error(), "china, public, usgov, usgovdod") {
		t.Errorf("unknown cloud: %v", err)
	}
	if len(graph.Clouds) != 4 {
		t.Errorf("%d clouds", len(graph.Clouds))
	}
}

// TestBaseURLOverridesCloud: an explicit BaseURL (a proxy, the simulator) wins over the
// cloud's Graph, and the token is asked for it.
func TestBaseURLOverridesCloud(t *testing.T) {
	t.Parallel()
	_, srv := start(t, 10, graphtest.Options{})
	cred, err := graph.NewCredential(graph.CredentialOptions{TenantID: srv.Tenant().ID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		Cloud: graph.CloudUSGov, AuthorityHost: srv.AuthorityURL(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Config{Cloud: graph.CloudUSGov, BaseURL: srv.URL(), Credential: cred, HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := c.ResolveUser(context.Background(), graphtest.AdeleUPN); err != nil || u.UPN != graphtest.AdeleUPN {
		t.Fatalf("through the simulator: %+v %v", u, err)
	}
}
