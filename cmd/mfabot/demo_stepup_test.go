package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// stepUpLink finds a one-time sign-in link in a console page.
var stepUpLink = regexp.MustCompile(`href="(http://[^"]+/stepup/[^"]+)"`)

// signInDemo finishes, as a browser would without the clicks, the step-up the demo asked
// person for after they pressed Approve on request id: it opens the newest sign-in link
// in their console replies, starts the sign-in, signs in with MFA as their Entra account on
// the simulated tenant's page and posts the answer back.
func signInDemo(t *testing.T, d *demo, person, id string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, form url.Values) (*http.Response, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = c.Get(u)
		} else {
			resp, err = c.PostForm(u, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	var link string
	waitFor(t, person+"'s sign-in link for "+id, func() bool {
		_, page := do(http.MethodGet, d.URL+"?as="+person, nil)
		ms := stepUpLink.FindAllStringSubmatch(page, -1)
		if len(ms) == 0 || !strings.Contains(page, "Sign in to approve "+id) {
			return false
		}
		link = strings.ReplaceAll(ms[len(ms)-1][1], "&amp;", "&")
		return true
	})
	resp, _ := do(http.MethodPost, link, url.Values{})
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start of %s's sign-in answered %d", person, resp.StatusCode)
	}
	_, body := do(http.MethodGet, authorize, nil)
	page, err := graphtest.ReadSignInPage(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, body = do(http.MethodPost, authorize, url.Values{"request": {page.Request}, "other": {demoAccounts[person]}, "method": {graphtest.SignInMFA}})
	action, fields, err := graphtest.FormPost(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(http.MethodPost, action, fields); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Approved "+id) {
		t.Fatalf("%s's sign-in for %s ended %d:\n%s", person, id, resp.StatusCode, body)
	}
}
