package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestDefaultMethod: the default second factor is read from the live sign-in
// preferences, DefaultNone when there is none; where they are refused it comes from the
// registration report; where both are refused the preferences' error says what to grant.
func TestDefaultMethod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, srv := start(t, 10, graphtest.Options{})
	tn := srv.Tenant()
	adele, _ := tn.User(graphtest.AdeleUPN)
	diego, _ := tn.User(graphtest.DiegoUPN)
	alex, _ := tn.User(graphtest.AlexUPN)
	tests := []struct {
		name    string
		user    graphtest.User
		granted []string
		want    string
		code    string // approvals code of the error, "" for success
		says    string // what its message says
	}{
		{"OKLive", adele, nil, approvals.DefaultSMS, "", ""},
		{"OKNone", diego, nil, approvals.DefaultNone, "", ""},
		{"OKReportWhenPreferencesRefused", alex, []string{"User.Read.All", "AuditLog.Read.All"}, approvals.DefaultSMS, "", ""},
		{"ErrBothRefused", adele, []string{"User.Read.All"}, "", approvals.EUPSTREAM, "UserAuthenticationMethod.ReadWrite.All"},
		{"ErrNoSuchUser", graphtest.User{ID: "00000000-0000-4000-8000-000000000000"}, nil, "", approvals.ENOTFOUND, "no user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn.SetGranted(graphtest.DefaultGranted())
			if tt.granted != nil {
				tn.SetGranted(tt.granted)
			}
			before := srv.Stats().Requests
			got, err := c.DefaultMethod(ctx, tt.user.ID)
			if approvals.ErrorCode(err) != tt.code || !strings.Contains(approvals.ErrorMessage(err), tt.says) || got != tt.want {
				t.Fatalf("DefaultMethod = %q, %v; want %q, code %q saying %q", got, err, tt.want, tt.code, tt.says)
			}
			if n := srv.Stats().Requests - before; tt.granted == nil && n != 1 {
				t.Fatalf("%d requests; the live preferences (or a 404) take one", n)
			}
		})
	}
	tn.SetGranted(graphtest.DefaultGranted())
	// The report fallback is the report's word: it follows a change made through Graph.
	if err := c.SetDefaultMethod(ctx, alex.ID, approvals.DefaultOath); err != nil {
		t.Fatal(err)
	}
	tn.SetGranted([]string{"User.Read.All", "AuditLog.Read.All"})
	if got, err := c.DefaultMethod(ctx, alex.ID); err != nil || got != approvals.DefaultOath {
		t.Fatalf("from the report after a change: %q %v", got, err)
	}
}

// TestSetDefaultMethod: the default moves to any method the user has; one the user has
// not is Graph's 400 with its words, not transient; the change is one PATCH Graph records.
func TestSetDefaultMethod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, srv := start(t, 10, graphtest.Options{})
	tn := srv.Tenant()
	alex, _ := tn.User(graphtest.AlexUPN)
	tests := []struct {
		name, pref string
		ok         bool
	}{
		{"OKOath", approvals.DefaultOath, true},
		{"OKVoiceOffice", approvals.DefaultVoiceOffice, true},
		{"ErrNoAuthenticator", approvals.DefaultPush, false},
		{"ErrNoAlternateMobile", approvals.DefaultVoiceAlternateMobile, false},
		{"OKBackToSMS", approvals.DefaultSMS, true},
	}
	want := approvals.DefaultSMS
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.SetDefaultMethod(ctx, alex.ID, tt.pref)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				want = tt.pref
			} else if approvals.ErrorCode(err) != approvals.EUPSTREAM || approvals.Transient(err) ||
				!strings.Contains(approvals.ErrorMessage(err), "no registered authentication method") {
				t.Fatalf("err = %v", err)
			}
			if got := tn.DefaultMethod(alex.ID); got != want {
				t.Fatalf("tenant default %q, want %q", got, want)
			}
			if got, err := c.DefaultMethod(ctx, alex.ID); err != nil || got != want {
				t.Fatalf("DefaultMethod %q %v, want %q", got, err, want)
			}
		})
	}
	if n := srv.Count(graphtest.OpSetSignInPreferences, alex.ID); n != 3 {
		t.Fatalf("%d successful changes recorded, want 3", n)
	}
}
