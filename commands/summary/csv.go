package summary

import (
	"bytes"
	"encoding/csv"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// csvHeader is the first row of the attachment listing enabled users without MFA. The
// object id comes first, so that the list feeds a bulk request as it is.
var csvHeader = []string{"object_id", "upn", "display_name", "user_type", "admin", "sspr_registered", "methods_registered", "last_updated"}

// csvList writes the rows of the attachment as users stream past, so only the encoded
// bytes are kept, never the users.
type csvList struct {
	buf             bytes.Buffer
	w               *csv.Writer
	rows            int
	members, guests int
	row             []string
}

func newCSVList() *csvList {
	l := &csvList{row: make([]string, len(csvHeader))}
	l.w = csv.NewWriter(&l.buf)
	l.w.UseCRLF = true // RFC 4180, and what spreadsheets expect
	l.write(csvHeader)
	return l
}

func (l *csvList) add(r approvals.Registration) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	l.row[0] = r.UserID
	l.row[1] = r.UPN
	l.row[2] = r.DisplayName
	l.row[3] = r.UserType
	l.row[4] = yes(r.IsAdmin)
	l.row[5] = yes(r.IsSsprRegistered)
	l.row[6] = strings.Join(r.MethodsRegistered, ";")
	l.row[7] = ""
	if !r.LastUpdated.IsZero() {
		l.row[7] = r.LastUpdated.UTC().Format(time.RFC3339)
	}
	l.write(l.row)
	l.rows++
	if strings.EqualFold(r.UserType, "guest") {
		l.guests++
	} else {
		l.members++
	}
}

func (l *csvList) write(row []string) {
	for i, c := range row {
		row[i] = CSVCell(c)
	}
	// Writing to a bytes.Buffer cannot fail.
	_ = l.w.Write(row)
}

func (l *csvList) bytes() []byte {
	l.w.Flush()
	return l.buf.Bytes()
}

// CSVCell guards a value against formula injection: a spreadsheet runs a cell that starts
// with = + - @ (or a tab or carriage return, which some strip first) as a formula, and a
// display name is user-controlled. Such a cell gets a leading apostrophe, which spreadsheets
// show as text. Quoting is left to encoding/csv.
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
