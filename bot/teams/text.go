package teams

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	atTagRE   = regexp.MustCompile(`(?is)<at\b[^>]*>(.*?)</at\s*>`)
	anyTagRE  = regexp.MustCompile(`(?s)<[^>]*>`)
	requestRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

const maxCommandLen = 256

// addressedToBot reports whether a message is meant for the bot: every message of a
// personal chat, and in channels and group chats those that @mention it.
func addressedToBot(a *activity) bool {
	if a.Conversation != nil && a.Conversation.ConversationType == convPersonal {
		return true
	}
	return mentionsBot(a)
}

func mentionsBot(a *activity) bool {
	if a.Recipient == nil {
		return false
	}
	for _, e := range a.Entities {
		if e.Type == "mention" && e.Mentioned != nil && e.Mentioned.ID == a.Recipient.ID {
			return true
		}
	}
	return false
}

// commandText turns the text of a message into command text: the bot's mention removed,
// other mentions reduced to the names they show, HTML tags dropped and entities unescaped,
// whitespace folded, and a leading "mfa" dropped — people type "@mfabot mfa reset …" as
// well as "@mfabot reset …".
func commandText(a *activity) string {
	text := a.Text
	if a.Recipient != nil {
		for _, e := range a.Entities {
			if e.Type == "mention" && e.Mentioned != nil && e.Mentioned.ID == a.Recipient.ID && e.Text != "" {
				text = strings.ReplaceAll(text, e.Text, " ")
			}
		}
	}
	// A leading mention the entities did not describe is the bot's, if it shows the bot's name.
	if m := atTagRE.FindStringSubmatchIndex(text); m != nil && strings.TrimSpace(text[:m[0]]) == "" &&
		a.Recipient != nil && strings.EqualFold(strings.TrimSpace(html.UnescapeString(text[m[2]:m[3]])), a.Recipient.Name) {
		text = text[m[1]:]
	}
	text = atTagRE.ReplaceAllString(text, " $1 ")
	text = anyTagRE.ReplaceAllString(text, " ")
	text = html.UnescapeString(text)
	fields := strings.Fields(strings.Map(func(r rune) rune {
		if dropRune(r) {
			return ' '
		}
		return r
	}, text))
	if len(fields) > 0 && strings.EqualFold(fields[0], "mfa") {
		fields = fields[1:]
	}
	return strings.Join(fields, " ")
}

// cleanCommand validates the command a card action carries and cleans the reason typed
// into the card of the characters Teams lets through that would disguise text (bidi
// controls and the like); the dispatcher folds, limits and applies the reason. The command
// is never trusted beyond being text: the dispatcher parses it like anything typed and the
// core reloads the request and checks the actor.
func cleanCommand(command, reason string) (string, string, bool) {
	command = strings.TrimSpace(command)
	if command == "" || len(command) > maxCommandLen || !utf8.ValidString(command) ||
		strings.IndexFunc(command, func(r rune) bool { return r != ' ' && dropRune(r) }) >= 0 {
		return "", "", false
	}
	reason = strings.Map(func(r rune) rune {
		if dropRune(r) {
			return ' '
		}
		return r
	}, reason)
	return command, reason, true
}

// cleanRequestID accepts a request id from card data when it looks like one.
func cleanRequestID(id string) (string, bool) {
	id = strings.TrimSpace(id)
	return id, requestRE.MatchString(id)
}
