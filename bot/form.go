package bot

// Form asks the person who typed a command for more than a command line holds (a list of
// up to 1,000 users to paste), in neutral form: Slack opens it as a modal, Teams sends an
// Adaptive Card with inputs, the console shows an HTML form. Submitting it is an Event
// whose Text is Command and whose Form holds the values by field id, taken as typed: the
// dispatcher checks them like anything typed.
type Form struct {
	Title   string // short: a Slack modal's title holds 24 characters
	Text    string // what the form is for, plain text
	Command string // canonical command text the submission runs ("reset-bulk")
	Submit  string // the submit button's label
	Fields  []Field
}

// FieldKind is what a field takes.
type FieldKind string

// Field kinds.
const (
	FieldText   FieldKind = "text"   // one line
	FieldLines  FieldKind = "lines"  // many lines; MaxChars may be beyond what one platform input holds
	FieldChoice FieldKind = "choice" // any of Options; the value is the chosen ones, comma-separated
	FieldToggle FieldKind = "toggle" // yes or no; the value is "true" or "false"
)

// Field is one input of a form.
type Field struct {
	ID          string // the key of its value in Event.Form
	Kind        FieldKind
	Label       string
	Placeholder string
	Hint        string // a line under the input
	Required    bool
	Value       string   // filled in at first: text, the chosen options comma-separated, "true"
	MaxChars    int      // FieldText, FieldLines: the most characters in all
	Options     []Option // FieldChoice
}

// Option is one choice of a FieldChoice.
type Option struct {
	Value string
	Label string
}

// FormValue is what a submitted form says of field id; "" when it says nothing.
func (e Event) FormValue(id string) string { return e.Form[id] }
