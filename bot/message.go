package bot

// Tone is the overall mood of a message; platforms map it to a colour or an icon.
type Tone string

// Tones.
const (
	ToneNeutral Tone = ""
	TonePending Tone = "pending" // waiting for someone
	ToneGood    Tone = "good"    // succeeded
	ToneWarning Tone = "warning" // partly failed, needs attention
	ToneBad     Tone = "bad"     // failed, denied, refused
)

// Message is what the bot says, in neutral form. Every string is plain text: adapters
// escape it for their markup (Slack mrkdwn, Adaptive Cards, HTML), so user-supplied text
// such as a reason can never mention @channel or spoof a link.
type Message struct {
	Title    string
	Tone     Tone
	Text     string // one or more paragraphs separated by "\n\n"
	Facts    []Fact
	Sections []Section
	Progress *Progress
	Buttons  []Button
	Image    *File  // a PNG shown inline (the summary chart)
	Files    []File // attachments (the CSV of unregistered users)
	Footer   string // a small context line: request id, expiry, who decided

	// RequestID is set on approval cards so a platform can reload the request when a
	// viewer refreshes the card. It is never trusted as authorisation.
	RequestID string
}

// Fact is one label/value line of a card.
type Fact struct {
	Label string
	Value string
	// Exact values (a Temporary Access Pass) are read aloud or copied character by
	// character: a platform shows them in monospace and never lets a character of them
	// turn into formatting.
	Exact bool `json:",omitempty"`
}

// Section is a titled list: methods to delete, failed users, users still unregistered.
type Section struct {
	Title string
	Lines []string
	More  int // lines left out for size; rendered as "… and N more"
}

// Progress is how far execution has come.
type Progress struct {
	Done   int // finished, successfully or not
	Failed int
	Total  int
}

// ButtonStyle is how prominent a button is.
type ButtonStyle string

// Button styles.
const (
	ButtonDefault ButtonStyle = ""
	ButtonPrimary ButtonStyle = "primary"
	ButtonDanger  ButtonStyle = "danger"
)

// Button is an action on a card. Command is canonical command text ("approve R-7K2Q"),
// parsed by the same parser as typed commands when the button is pressed.
type Button struct {
	Label   string
	Command string
	Style   ButtonStyle
	// NeedsReason asks the presser for a reason first (Deny); the adapter appends the
	// reason to Command before dispatching.
	NeedsReason bool
	// URL makes the button a link that the presser's browser opens, instead of a command
	// (the one-time step-up sign-in). It is left out of JSON when empty, so that the
	// golden files of command buttons do not change.
	URL string `json:",omitempty"`
}

// File is binary content attached to a message.
type File struct {
	Name        string // "enrollment-2026-11-22.png"
	ContentType string // "image/png", "text/csv"
	Data        []byte
	Alt         string // a description for screen readers and clients without images
}
