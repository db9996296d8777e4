package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands/summary"
)

// The CSV of users a bulk reset reads (mfabot request reset --csv) and the CSV of failed
// rows mfabot request show --failed --csv writes are one format, so that asking again for
// the failed users is one command: a header row, then one user a row.

// Header names of the columns that name a user, matched case-insensitively, spaces and
// underscores ignored: Entra's own exports, PowerShell's Get-MgUser, the runbook's
// users.csv and the daily summary's CSV ("upn") all work.
var (
	upnColumns = []string{"userprincipalname", "upn"}
	idColumns  = []string{"objectid", "id", "userid"}
)

// Columns of the failed-rows CSV.
var failedHeader = []string{"UserPrincipalName", "ObjectId", "Reason"}

// readUserCSV reads a CSV of users into rows numbered by line (the header is line 1): the
// ObjectId column where a row has one, else the UserPrincipalName column. The delimiter is
// a comma, or the semicolon or tab a spreadsheet saved with; a UTF-8 byte-order mark is
// skipped, and a leading apostrophe that guards a cell against formulas is dropped. A file
// that is not CSV, has no such column, has a row without a user, or has more than max
// rows is refused with an error naming the file and the line.
func readUserCSV(r io.Reader, name string, max int) ([]approvals.BulkRow, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(4096)
	head = bytes.TrimPrefix(head, []byte("\uFEFF"))
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(trimPartialRune(head)) {
		return nil, fmt.Errorf("%s is not a CSV file: it holds binary data (save it as CSV UTF-8)", name)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.Comma = delimiter(head)
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s is empty: it needs a header row with a UserPrincipalName or ObjectId column, then one user a row", name)
	case err != nil:
		return nil, csvError(name, err)
	}
	upn, id := column(header, upnColumns), column(header, idColumns)
	if upn < 0 && id < 0 {
		return nil, fmt.Errorf("%s has no UserPrincipalName or ObjectId column: line 1 names %s (header names are matched case-insensitively)",
			name, quoteList(header))
	}
	var rows []approvals.BulkRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == max {
			return nil, fmt.Errorf("%s has more than %d users (policy.bulk_max): line %d is the first one over; split the file", name, max, line)
		}
		v := cell(rec, id)
		if v == "" {
			v = cell(rec, upn)
		}
		if v == "" {
			return nil, fmt.Errorf("%s line %d names no user: its %s cell is empty", name, line, columnNames(upn, id))
		}
		rows = append(rows, approvals.BulkRow{Line: line, Value: v})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s names no user: it has a header row and nothing under it", name)
	}
	return rows, nil
}

// delimiter guesses the delimiter from the header line: a comma unless the line has none
// and a semicolon or tab instead.
func delimiter(head []byte) rune {
	first, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.IndexByte(first, ',') >= 0 {
		return ','
	}
	switch {
	case bytes.IndexByte(first, ';') >= 0:
		return ';'
	case bytes.IndexByte(first, '\t') >= 0:
		return '\t'
	}
	return ','
}

// trimPartialRune drops a rune cut in half at the end of a peeked buffer.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(b); r != utf8.RuneError {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

func column(header []string, names []string) int {
	for i, h := range header {
		h = strings.ToLower(strings.NewReplacer(" ", "", "_", "", "\uFEFF", "").Replace(strings.TrimSpace(h)))
		for _, n := range names {
			if h == n {
				return i
			}
		}
	}
	return -1
}

func columnNames(upn, id int) string {
	switch {
	case upn >= 0 && id >= 0:
		return "UserPrincipalName and ObjectId"
	case id >= 0:
		return "ObjectId"
	}
	return "UserPrincipalName"
}

// cell is column i of rec, trimmed, without the apostrophe a spreadsheet-safe writer puts
// before a value that starts like a formula.
func cell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	v := strings.TrimSpace(rec[i])
	if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		v = v[1:]
	}
	return v
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s is not a valid CSV file: line %d: %v", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("read %s: %w", name, err)
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", strings.TrimPrefix(s, "\uFEFF"))
	}
	return strings.Join(q, ", ")
}

// writeFailedCSV writes one row per user with a failed item: UserPrincipalName, ObjectId
// and why, in the format readUserCSV reads. Cells are guarded against formulas.
func writeFailedCSV(w io.Writer, items []approvals.Item) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(failedHeader); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		if it.State != approvals.ItemFailed || seen[strings.ToLower(it.UserID)] {
			continue
		}
		seen[strings.ToLower(it.UserID)] = true
		if err := cw.Write([]string{summary.CSVCell(it.UserName), summary.CSVCell(it.UserID), summary.CSVCell(it.Error)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
