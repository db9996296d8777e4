package commands

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// MaxPastedUsers is the most users a list pasted into chat takes; longer lists go
// through the CLI (mfabot request reset --csv), up to policy.bulk_max.
const MaxPastedUsers = 1000

// maxPastedChars bounds what a pasted list may hold: 1,000 of the longest plausible
// UPNs (a guest's #EXT# name) with their line breaks.
const maxPastedChars = MaxPastedUsers * 100

// Ids of the fields of the reset-bulk form; a submission's Event.Form is keyed by them.
const (
	FieldUsers  = "users"
	FieldOnly   = "only"
	FieldTAP    = "tap"
	FieldReason = "reason"
)

// resetOptions parses --only TYPES and --tap, in either order: right after the user for
// reset, right after the command for reset-bulk.
func (p *parser) resetOptions(c *Command) error {
	for {
		save := p.pos
		w, ok, err := p.word()
		if err != nil {
			return p.quoteErr(c.Name, err)
		}
		lower := strings.ToLower(w.text)
		switch {
		case !ok || w.quoted:
			p.pos = save
			return nil
		case lower == "--tap":
			if c.TAP {
				return usageErr(c.Name, "--tap is given twice")
			}
			c.TAP = true
		case lower == "--only" || strings.HasPrefix(lower, "--only="):
			if len(c.Only) > 0 {
				return usageErr(c.Name, "--only is given twice; name every type in one: --only authenticator,oath")
			}
			p.pos = save
			if err := p.only(c); err != nil {
				return err
			}
		default:
			p.pos = save
			return nil
		}
	}
}

// listSeparators split a pasted list: one user a line, as asked, but also the commas,
// semicolons and spaces of a list copied from a mail or a spreadsheet row. None of them
// can be part of a UPN or an object id.
var listSeparators = regexp.MustCompile(`[\s,;]+`)

// ParseList reads a pasted list of users, one a line, into rows numbered by line. Mail
// links that chat clients make of addresses and angle brackets ("Ann <ann@contoso.com>"
// keeps the address) are undone. A list with more than MaxPastedUsers users is refused,
// naming the first line over; so is one that names nobody.
func ParseList(text string) ([]approvals.BulkRow, error) {
	if len(text) > maxPastedChars {
		return nil, approvals.Errorf(approvals.EINVALID, "the pasted list is too long (%s characters; at most %s)", bot.Thousands(len(text)), bot.Thousands(maxPastedChars))
	}
	var rows []approvals.BulkRow
	for i, line := range strings.Split(clean(text), "\n") {
		if a, b := strings.LastIndexByte(line, '<'), strings.LastIndexByte(line, '>'); a >= 0 && b > a && strings.Contains(line[a:b], "@") {
			line = line[a+1 : b] // "Ann Lee <ann@contoso.com>"
		}
		for _, v := range listSeparators.Split(line, -1) {
			v = strings.Trim(v, `"'<>()`)
			if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
				v = v[7:]
			}
			if v == "" {
				continue
			}
			rows = append(rows, approvals.BulkRow{Line: i + 1, Value: v})
		}
	}
	switch {
	case len(rows) == 0:
		return nil, approvals.Errorf(approvals.EINVALID, "the pasted list names no user: paste UPNs or object ids, one a line")
	case len(rows) > MaxPastedUsers:
		return nil, approvals.Errorf(approvals.EINVALID, "the pasted list names %s users; a pasted list takes at most %s (line %d is the first one over): use mfabot request reset --csv for more",
			bot.Thousands(len(rows)), bot.Thousands(MaxPastedUsers), rows[MaxPastedUsers].Line)
	}
	return rows, nil
}

// resetBulk answers reset-bulk: typed, it opens the form to paste the list in (with what
// was typed filled in); submitted, it asks for one request for the whole list.
func (d *Dispatcher) resetBulk(ctx context.Context, log *slog.Logger, ev bot.Event, cmd Command, now time.Time) (bot.Response, error) {
	if ev.Form == nil {
		if cmd.TAP && !d.cards.Policy.TAPEnabled {
			_, err := d.cards.Policy.TAPPlanFor("")
			return bot.Response{}, err
		}
		f := d.bulkForm(cmd)
		return bot.Response{Form: &f}, nil
	}
	rows, err := ParseList(ev.FormValue(FieldUsers))
	if err != nil {
		return bot.Response{}, err
	}
	var onlyNames []string
	if v := strings.TrimSpace(ev.FormValue(FieldOnly)); v != "" {
		c, err := Parse(CmdResetBulk + " --only " + quote(escapeMarkup(v)))
		if err != nil {
			return bot.Response{}, err
		}
		onlyNames = c.Only
	}
	only, err := approvals.SelectionTypes(onlyNames)
	if err != nil {
		return bot.Response{}, err
	}
	reason := strings.Join(strings.Fields(ev.FormValue(FieldReason)), " ")
	if reason == "" {
		reason = cmd.Reason
	}
	if n := len([]rune(reason)); n > maxReason {
		return bot.Response{}, usageErr(CmdResetBulk, "the reason is too long (%s characters; at most %s)", bot.Thousands(n), bot.Thousands(maxReason))
	}
	in := approvals.BulkInput{
		Source: "a list pasted in " + platformWords(ev.Actor.Platform),
		Rows:   rows, Only: only, Reason: reason,
		TAP: strings.EqualFold(ev.FormValue(FieldTAP), "true"),
	}
	log.InfoContext(ctx, "bulk reset asked for", "rows", len(rows), "tap", in.TAP)
	r, err := d.o.Service.CreateBulkReset(ctx, ev.Actor, in)
	if err != nil {
		return bot.Response{}, err
	}
	m := bot.Message{
		Title: fmt.Sprintf("Request %s is waiting for approval", r.ID),
		Tone:  bot.TonePending,
		Text: fmt.Sprintf("Request %s to reset %s is waiting for approval in the approvals channel (expires %s). %s "+
			"Another admin must approve it; you will be told when it is decided.", r.ID, r.Target.Name, stamp(r.ExpiresAt, now), preview(r)),
	}
	card := d.cards.Request(r, nil, now)
	return bot.Response{Reply: &m, Card: &card}, nil
}

// bulkForm is the form of reset-bulk: the list, the types to delete, the pass (when the
// policy allows one) and the reason, with what was typed filled in.
func (d *Dispatcher) bulkForm(cmd Command) bot.Form {
	f := bot.Form{
		Title:   "Reset MFA for a list",
		Command: CmdResetBulk,
		Submit:  "Ask for approval",
		Text: fmt.Sprintf("Paste up to %s users, one UPN or object id a line. Every user on the list is reset as with /mfa reset: "+
			"their methods are deleted (every one but the password, or only the types chosen below) and their sessions revoked. "+
			"Unknown users, protected accounts and users named twice are left out, each with why, before a second admin approves the list.",
			bot.Thousands(MaxPastedUsers)),
	}
	f.Fields = append(f.Fields, bot.Field{ID: FieldUsers, Kind: bot.FieldLines, Label: "Users", Required: true, MaxChars: maxPastedChars,
		Placeholder: "adele.vance@contoso.com\n6e7b768e-07e2-4810-8459-485f84f8f204"})
	var opts []bot.Option
	for _, n := range approvals.SelectionNames() {
		ts, _ := approvals.SelectionTypes([]string{n})
		opts = append(opts, bot.Option{Value: n, Label: typeNames(ts)})
	}
	f.Fields = append(f.Fields, bot.Field{ID: FieldOnly, Kind: bot.FieldChoice, Label: "Only these types (none chosen: every method but the password)",
		Options: opts, Value: strings.Join(cmd.Only, ",")})
	if d.cards.Policy.TAPEnabled {
		tap := bot.Field{ID: FieldTAP, Kind: bot.FieldToggle, Label: "Temporary Access Pass",
			Hint: "After each reset, create a pass for the user and show it to you alone, to give them by phone or in person."}
		if cmd.TAP {
			tap.Value = "true"
		}
		f.Fields = append(f.Fields, tap)
	}
	f.Fields = append(f.Fields, bot.Field{ID: FieldReason, Kind: bot.FieldText, Label: "Reason", MaxChars: bot.MaxReason,
		Placeholder: "Why? Everyone on the card will see it.", Value: cmd.Reason})
	return f
}

// platformWords names a chat platform for a card: "Slack", "Teams".
func platformWords(p string) string {
	switch p {
	case "slack":
		return "Slack"
	case "teams":
		return "Microsoft Teams"
	case "console":
		return "the demo console"
	}
	return p
}
