package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// OpSendMail is a sendMail recorded in Calls: UserID is the sending mailbox's user, Target
// the first recipient's address.
const OpSendMail = "sendMail"

// Mail is a message a mailbox sent through sendMail, as the server received it.
type Mail struct {
	From        string   // the sending mailbox's user principal name
	To          []string // toRecipients' addresses
	Subject     string
	ContentType string // "Text" or "HTML"
	Body        string
	SaveToSent  bool
	At          time.Time
}

// Mails returns the messages sent so far, oldest first.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// MailsTo returns the messages sent to address (case-insensitive), oldest first.
func (s *Server) MailsTo(address string) []Mail {
	var out []Mail
	for _, m := range s.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// permMail is the application permission of sendMail.
var permMail = []string{"Mail.Send"}

// sendMailRequest is the documented body of POST /users/{id | userPrincipalName}/sendMail.
// Graph reads an action's parameters regardless of case, as encoding/json does: the Go SDK
// sends "Message" and "SaveToSentItems" where the documentation writes them in camel case.
type sendMailRequest struct {
	Message *struct {
		Subject string `json:"subject"`
		Body    *struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		ToRecipients []struct {
			EmailAddress *struct {
				Address string `json:"address"`
				Name    string `json:"name"`
			} `json:"emailAddress"`
		} `json:"toRecipients"`
	} `json:"message"`
	SaveToSentItems *bool `json:"saveToSentItems"`
}

// sendMail is POST /users/{id | userPrincipalName}/sendMail: 202 Accepted with no body.
// The sender must be a user with a mailbox: a member with a mail address here (a guest, or
// a user without one, has none). Each mailbox may send at most Limits.Mail messages per
// Limits.MailWindow (Exchange Online's 30 per minute), a 429 beyond. Error codes are
// Graph's (ErrorInvalidUser, MailboxNotEnabledForRESTAPI, ErrorInvalidRecipients); their
// messages are modeled on what Graph answers, which Microsoft does not document word for
// word.
func (s *Server) sendMail(userRef string, body []byte) reply {
	usr, ok := s.t.User(userRef)
	if !ok {
		s.record(Call{Op: OpSendMail, UserID: userRef, Status: 404})
		return graphError(404, "ErrorInvalidUser", fmt.Sprintf("The requested user '%s' is invalid.", userRef))
	}
	if usr.Mail == "" || usr.UserType == Guest || !usr.AccountEnabled {
		s.record(Call{Op: OpSendMail, UserID: usr.ID, Status: 404})
		return graphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	}
	var in sendMailRequest
	if err := json.Unmarshal(body, &in); err != nil || in.Message == nil {
		return graphError(400, "ErrorInvalidRequest", "Cannot read the request body: it must hold a message.")
	}
	var to []string
	for _, r := range in.Message.ToRecipients {
		if r.EmailAddress == nil || !strings.Contains(r.EmailAddress.Address, "@") {
			return graphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., A message can't be sent because it contains no recipients.")
		}
		to = append(to, r.EmailAddress.Address)
	}
	if len(to) == 0 {
		return graphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., A message can't be sent because it contains no recipients.")
	}
	if wait := s.throttle.mailbox(s.o.Now(), usr.ID); wait > 0 {
		s.mu.Lock()
		s.stats.Throttled++
		s.stats.ThrottledBy[ThrottledMail]++
		s.mu.Unlock()
		s.record(Call{Op: OpSendMail, UserID: usr.ID, Target: to[0], Status: 429})
		rep := graphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		rep.header = http.Header{"Retry-After": {retryAfterValue(wait, s.throttle.scale)}}
		return rep
	}
	m := Mail{From: usr.UserPrincipalName, To: to, Subject: in.Message.Subject, SaveToSent: in.SaveToSentItems == nil || *in.SaveToSentItems, At: time.Now()}
	if b := in.Message.Body; b != nil {
		m.ContentType, m.Body = b.ContentType, b.Content
	}
	s.mu.Lock()
	s.mails = append(s.mails, m)
	s.mu.Unlock()
	s.record(Call{Op: OpSendMail, UserID: usr.ID, Target: to[0], Status: 202})
	return reply{status: 202}
}

// mailbox counts one message sent by the mailbox of userID now, or says how long it must
// wait under the per-mailbox message limit.
func (t *throttler) mailbox(now time.Time, userID string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.mailboxes[userID]
	if !ok {
		w = t.mail()
		t.mailboxes[userID] = w
	}
	if d := w.wait(now, 1); d > 0 {
		return d
	}
	w.add(now, 1)
	return 0
}
