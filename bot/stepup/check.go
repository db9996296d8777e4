package stepup

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CheckAuthority is the name of the check Check reports: part of mfabot doctor's --json
// contract (docs/deployment.md).
const CheckAuthority = "stepup.authority"

// Reporter receives the outcome of each check, as graph's, storage's and the adapters'
// do; declared here, where it is used.
type Reporter interface {
	OK(check, msg, fix string)
	Warn(check, msg, fix string)
	Fail(check, msg, fix string)
}

// checkTimeout bounds the check's fetches.
const checkTimeout = 30 * time.Second

// Check reports whether a step-up sign-in can run as configured: the app has a credential
// that can redeem a sign-in's code, and the tenant's OpenID metadata and signing keys load
// from the authority. (That the app registration lists the redirect URI is Graph's to
// read: graph.Check.) It changes nothing; cfg.Store is not needed.
func Check(ctx context.Context, cfg Config, r Reporter) {
	if cfg.Store == nil {
		cfg.Store = noStore{}
	}
	f, err := New(cfg)
	if err != nil {
		fix := "set public_url (MFABOT_PUBLIC_URL) to the https address admins' browsers reach mfabot at"
		if strings.Contains(err.Error(), "managed identity") || strings.Contains(err.Error(), "certificate") {
			fix = "give mfabot a client secret (AZURE_CLIENT_SECRET), a certificate (AZURE_CLIENT_CERTIFICATE_PATH) or a workload identity for the app registration"
		}
		r.Fail(CheckAuthority, "step-up cannot run: "+err.Error(), fix)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	m, err := f.authority.metadata(ctx)
	if err != nil {
		r.Fail(CheckAuthority, "Entra ID's OpenID metadata does not load: "+firstLine(err),
			"check graph.tenant_id (AZURE_TENANT_ID) and graph.cloud/graph.authority_host, and that mfabot can reach "+f.authority.discovery)
		return
	}
	keys, err := f.authority.fetchKeys(ctx, m.JWKSURI)
	if err != nil {
		r.Fail(CheckAuthority, "Entra ID's signing keys do not load from "+m.JWKSURI+": "+firstLine(err), "check that mfabot can reach "+m.JWKSURI)
		return
	}
	r.OK(CheckAuthority, fmt.Sprintf("sign-in metadata of tenant %s loads (issuer %s, %d signing keys); the code is redeemed with the %s of app %s; redirect URI %s",
		cfg.TenantID, m.Issuer, len(keys), f.cred.kind, cfg.ClientID, f.RedirectURI()), "")
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}

// noStore stands in for the store where none is needed.
type noStore struct{ Store }
