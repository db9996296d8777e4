package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
)

func TestReadUserCSV(t *testing.T) {
	t.Parallel()
	const id = "6e7b768e-07e2-4810-8459-485f84f8f204"
	tests := []struct {
		name string
		in   string
		want []approvals.BulkRow
		says string
	}{
		{name: "OK_Runbook", in: "UserPrincipalName\r\nann@contoso.com\r\nben@contoso.com\r\n",
			want: []approvals.BulkRow{{Line: 2, Value: "ann@contoso.com"}, {Line: 3, Value: "ben@contoso.com"}}},
		{name: "OK_HeaderAnyCaseAndBOM", in: "\uFEFFuser principal name,Dept\nann@contoso.com,IT\n", want: []approvals.BulkRow{{Line: 2, Value: "ann@contoso.com"}}},
		{name: "OK_ObjectIdWins", in: "userPrincipalName,id\nann@contoso.com," + id + "\nben@contoso.com,\n",
			want: []approvals.BulkRow{{Line: 2, Value: id}, {Line: 3, Value: "ben@contoso.com"}}},
		{name: "OK_Semicolons", in: "Name;UPN\nAnn, the admin;ann@contoso.com\n", want: []approvals.BulkRow{{Line: 2, Value: "ann@contoso.com"}}},
		// The daily summary's CSV guards cells that start like formulas with an apostrophe.
		{name: "OK_SummaryCSV", in: "upn,display_name,user_type,admin,methods_registered,last_updated\r\n'-x@contoso.com,\"Beth \"\"B\"\", Jr.\",member,no,,\r\n",
			want: []approvals.BulkRow{{Line: 2, Value: "-x@contoso.com"}}},
		{name: "OK_QuotedNewline", in: "Note,UPN\n\"two\nlines\",ann@contoso.com\n", want: []approvals.BulkRow{{Line: 2, Value: "ann@contoso.com"}}},
		{name: "ErrBinary", in: "PK\x03\x04\x00\x00", says: "users.csv is not a CSV file: it holds binary data"},
		{name: "ErrNoColumn", in: "mail\nann@contoso.com\n", says: `users.csv has no UserPrincipalName or ObjectId column: line 1 names "mail"`},
		{name: "ErrShortRow", in: "Dept,UPN\nIT\n", says: "users.csv line 2 names no user: its UserPrincipalName cell is empty"},
		{name: "ErrHeaderOnly", in: "UPN\n", says: "users.csv names no user"},
		{name: "ErrTooMany", in: "UPN\na@contoso.com\nb@contoso.com\nc@contoso.com\nd@contoso.com\n", says: "users.csv has more than 3 users (policy.bulk_max): line 5 is the first one over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readUserCSV(strings.NewReader(tt.in), "users.csv", 3)
			if tt.says != "" {
				if err == nil || !strings.Contains(err.Error(), tt.says) {
					t.Fatalf("err = %v, want one saying %q", err, tt.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFailedCSVRoundTrip: the failed-rows CSV reads back as the failed users, once each.
func TestFailedCSVRoundTrip(t *testing.T) {
	t.Parallel()
	items := []approvals.Item{
		{UserID: "u1", UserName: "ann@contoso.com", State: approvals.ItemFailed, Error: "=cmd|' /C calc'!A0"},
		{UserID: "u2", UserName: "ben@contoso.com", State: approvals.ItemDone},
		{UserID: "u3", UserName: "cleo@contoso.com", State: approvals.ItemFailed, Error: "no pass"},
		{UserID: "U1", UserName: "ann@contoso.com", State: approvals.ItemFailed, Error: "again"},
	}
	var b bytes.Buffer
	if err := writeFailedCSV(&b, items); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `'=cmd`) {
		t.Fatalf("a formula is not guarded:\n%s", b.String())
	}
	rows, err := readUserCSV(&b, "failed.csv", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []approvals.BulkRow{{Line: 2, Value: "u1"}, {Line: 3, Value: "u3"}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
}
