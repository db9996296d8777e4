package commands_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	const guid = "6e7b768e-07e2-4810-8459-485f84f8f204"
	tests := []struct {
		name string
		in   string
		want []approvals.BulkRow
		says string // the refusal
	}{
		{name: "OK_OneALine", in: "ann@contoso.com\n\n  " + guid + "  \r\nben@contoso.com\n",
			want: []approvals.BulkRow{{Line: 1, Value: "ann@contoso.com"}, {Line: 3, Value: guid}, {Line: 4, Value: "ben@contoso.com"}}},
		{name: "OK_CommasAndSemicolons", in: "ann@contoso.com; ben@contoso.com,\tcleo@contoso.com",
			want: []approvals.BulkRow{{Line: 1, Value: "ann@contoso.com"}, {Line: 1, Value: "ben@contoso.com"}, {Line: 1, Value: "cleo@contoso.com"}}},
		{name: "OK_MailNames", in: "Ann Lee <ann@contoso.com>\n\"ben@contoso.com\"\nmailto:cleo@contoso.com\n<mailto:dan@contoso.com|dan@contoso.com>",
			want: []approvals.BulkRow{{Line: 1, Value: "ann@contoso.com"}, {Line: 2, Value: "ben@contoso.com"}, {Line: 3, Value: "cleo@contoso.com"}, {Line: 4, Value: "dan@contoso.com"}}},
		{name: "OK_Guest", in: "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", want: []approvals.BulkRow{{Line: 1, Value: "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}}},
		{name: "ErrEmpty", in: " \n\t\n", says: "the pasted list names no user"},
		{name: "ErrTooMany", in: strings.Repeat("u@contoso.com\n", 1001), says: "the pasted list names 1,001 users; a pasted list takes at most 1,000 (line 1001 is the first one over): use mfabot request reset --csv"},
		{name: "ErrTooLong", in: strings.Repeat("x", 200_000), says: "the pasted list is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.ParseList(tt.in)
			if tt.says != "" {
				if approvals.ErrorCode(err) != approvals.EINVALID || !strings.Contains(approvals.ErrorMessage(err), tt.says) {
					t.Fatalf("err = %v, want one saying %q", err, tt.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseList (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDispatchResetBulk: typed, reset-bulk opens the form (with what was typed filled
// in); submitted, it asks for one request whose card lists the users and the refused
// rows; bad lists are refused naming the line.
func TestDispatchResetBulk(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{tap: true})
	resp := f.do(ann, "reset-bulk --only authenticator --tap phishing wave")
	if resp.Form == nil || resp.Reply != nil {
		t.Fatalf("reset-bulk answered %+v", resp)
	}
	golden(t, "form-reset-bulk", resp.Form)
	values := map[string]string{}
	for _, fl := range resp.Form.Fields {
		values[fl.ID] = fl.Value
	}
	if values["only"] != "authenticator" || values["tap"] != "true" || values["reason"] != "phishing wave" {
		t.Fatalf("the form does not carry what was typed: %v", values)
	}

	submit := func(a approvals.Actor, form map[string]string) bot.Response {
		return f.d.Handle(context.Background(), bot.Event{Actor: a, Text: resp.Form.Command, Form: form})
	}
	var list strings.Builder
	list.WriteString("adele.vance@contoso.com\nnobody@contoso.com\n")
	for i := range 25 {
		fmt.Fprintf(&list, "u-%04d@contoso.com\n", i)
	}
	list.WriteString("u-adele\n")
	ok := submit(ann, map[string]string{"users": list.String(), "only": "authenticator", "tap": "true", "reason": "phishing wave"})
	if ok.Card == nil {
		t.Fatalf("submission answered %+v", ok.Reply)
	}
	id := ok.Card.RequestID
	says(t, ok.Reply, "Request "+id+" to reset 26 users is waiting for approval", "It resets 26 users; 2 rows were left out",
		"Then a Temporary Access Pass is created and shown to you alone.")
	golden(t, "card-reset-bulk-submitted", ok.Card, id)
	says(t, ok.Card, "Users: 26 (from a list pasted in Slack)", "Refused rows: 2, left out", "line 2: nobody@contoso.com — no user nobody@contoso.com in the directory",
		"line 28: u-adele — the same user as line 1 (adele.vance@contoso.com)", "… and 6 more", "Temporary Access Pass: yes: valid 1 h, usable once, shown to the requester alone")
	r, err := f.svc.Request(context.Background(), id)
	if err != nil || r.Kind != approvals.KindResetBulk || len(r.Preview.Only) != 1 || r.Preview.TAP == nil || r.Reason != "phishing wave" {
		t.Fatalf("request = %+v %v", r, err)
	}

	tests := []struct {
		name  string
		actor approvals.Actor
		form  map[string]string
		says  string
	}{
		{"ErrEmpty", ann, map[string]string{"users": "  "}, "the pasted list names no user"},
		{"ErrSameLineTwice", ann, map[string]string{"users": "diego.siciliani@contoso.com\nDIEGO.siciliani@contoso.com"}, "line 2 names the same user as line 1"},
		{"ErrBadOnly", ann, map[string]string{"users": "diego.siciliani@contoso.com", "only": "sms"}, `--only: "sms" is not a method`},
		{"ErrNotAdmin", nina, map[string]string{"users": "diego.siciliani@contoso.com"}, "only mfabot admins may use this command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			says(t, submit(tt.actor, tt.form).Reply, tt.says)
		})
	}
	t.Run("ErrTAPOff", func(t *testing.T) {
		g := newFixture(t, fixtureOptions{})
		says(t, g.do(ann, "reset-bulk --tap").Reply, "--tap is turned off on this mfabot (policy.tap_enabled)")
		form := g.do(ann, "reset-bulk").Form
		for _, fl := range form.Fields {
			if fl.ID == "tap" {
				t.Fatal("the form offers a pass the policy forbids")
			}
		}
	})
	t.Run("ErrNotAdminNoForm", func(t *testing.T) {
		resp := f.do(nina, "reset-bulk")
		if resp.Form != nil {
			t.Fatal("Nina got the form")
		}
		says(t, resp.Reply, "only mfabot admins may use this command")
	})
}

// TestPassMessage: the pass is in the private message, with its terms, and the message
// says it is private.
func TestPassMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{tap: true})
	r := &approvals.Request{ID: "R-7K2QXA", Kind: approvals.KindReset, Requester: ann}
	p := approvals.Pass{UserName: "adele.vance@contoso.com", Value: "Xy7!kQ2p", Start: start, Lifetime: time.Hour, OneTime: true}
	m := f.d.PassMessage(r, p)
	says(t, &m, "Pass: Xy7!kQ2p", "Valid until: 2026-11-22T10:00:00Z", "Usable: once", "Only you see this message", "never by e-mail or chat")
	if m.RequestID != "" || len(m.Buttons) != 0 {
		t.Fatalf("a pass message is a card: %+v", m)
	}
}
