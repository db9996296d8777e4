package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// maxAltChars is Slack's limit for a file's alt text.
const maxAltChars = 1000

// Post posts msg to the approvals channel with chat.postMessage (Block Kit and a plain
// fallback text). msg.Image is uploaded into the channel right after the message and
// msg.Files into its thread, with the files upload v2 flow. When the message is posted
// but an upload fails, Post returns the message's reference together with the error.
func (a *Adapter) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	ch, ts, err := a.postMessage(ctx, a.cfg.Channel, msg)
	if err != nil {
		return bot.MessageRef{}, err
	}
	ref := bot.MessageRef{Platform: PlatformName, Channel: ch, MessageID: ts}
	return ref, a.sendFiles(ctx, ch, ts, msg)
}

// Tell sends msg as a direct message: to a Slack actor, or to the Slack user whose
// e-mail is to.Email (users.lookupByEmail). It returns an error wrapping
// bot.ErrUnreachable when there is no such Slack user or Slack will not let the bot
// message them.
func (a *Adapter) Tell(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	userID, err := a.recipient(ctx, to)
	if err != nil {
		return err
	}
	var ch *slackapi.Channel
	err = a.retry(ctx, "conversations.open", func() (err error) {
		ch, _, _, err = a.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{userID}})
		return err
	})
	if err != nil {
		return unreachableOr(userID, "conversations.open", err)
	}
	chID, ts, err := a.postMessage(ctx, ch.ID, msg)
	if err != nil {
		return unreachableOr(userID, "chat.postMessage", err)
	}
	return a.sendFiles(ctx, chID, ts, msg)
}

// recipient finds the Slack user id of to.
func (a *Adapter) recipient(ctx context.Context, to bot.Recipient) (string, error) {
	switch {
	case to.Actor != nil:
		if to.Actor.Platform != PlatformName || to.Actor.ID == "" {
			return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "%s is not a Slack user", to.Actor.Key())
		}
		return to.Actor.ID, nil
	case to.Email != "" || to.UPN != "":
		// The mail address first, then the UPN, which is often the same and otherwise the
		// address people's Slack profiles were set up with.
		var err error
		for _, addr := range addresses(to) {
			var u *slackapi.User
			err = a.retry(ctx, "users.lookupByEmail", func() (err error) {
				u, err = a.api.GetUserByEmailContext(ctx, addr)
				return err
			})
			if err != nil {
				err = unreachableOr("the user with that e-mail", "users.lookupByEmail", err)
				if errors.Is(err, bot.ErrUnreachable) {
					continue
				}
				return "", err
			}
			if u.Deleted || u.IsBot {
				return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "the Slack user with that e-mail is deactivated or a bot")
			}
			return u.ID, nil
		}
		return "", err
	}
	return "", approvals.Errorf(approvals.EINVALID, "slack: recipient has neither an actor nor an e-mail")
}

// unreachableOr maps the Slack errors that mean "this person cannot be messaged" to
// bot.ErrUnreachable and anything else to EUPSTREAM.
func unreachableOr(who, method string, err error) error {
	switch code := slackError(err); code {
	case "users_not_found", "user_not_found", "user_disabled", "cannot_dm_bot", "user_not_visible":
		return approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "%s is not reachable on Slack (%s)", who, code)
	}
	return upstream(method, err)
}

func (a *Adapter) postMessage(ctx context.Context, channel string, msg bot.Message) (string, string, error) {
	var ch, ts string
	err := a.retry(ctx, "chat.postMessage", func() (err error) {
		ch, ts, err = a.api.PostMessageContext(ctx, channel,
			slackapi.MsgOptionBlocks(Render(msg)...), slackapi.MsgOptionText(FallbackText(msg), false))
		return err
	})
	a.members.spent() // one budget for every post: bulk direct messages make room
	return ch, ts, upstream("chat.postMessage", err)
}

func (a *Adapter) postEphemeral(ctx context.Context, channel, user string, msg bot.Message) error {
	err := a.retry(ctx, "chat.postEphemeral", func() error {
		_, err := a.api.PostEphemeralContext(ctx, channel, user,
			slackapi.MsgOptionBlocks(Render(msg)...), slackapi.MsgOptionText(FallbackText(msg), false))
		return err
	})
	return upstream("chat.postEphemeral", err)
}

// sendFiles uploads msg.Image into the channel and msg.Files into the thread of ts.
func (a *Adapter) sendFiles(ctx context.Context, channel, ts string, msg bot.Message) error {
	var errs []error
	if msg.Image != nil {
		errs = append(errs, a.upload(ctx, channel, "", *msg.Image))
	}
	for _, f := range msg.Files {
		errs = append(errs, a.upload(ctx, channel, ts, f))
	}
	return errors.Join(errs...)
}

// upload shares one file with the files upload v2 flow (files.getUploadURLExternal, a POST
// to the upload URL, files.completeUploadExternal with channel_id), which slack-go runs
// against the configured API URL.
func (a *Adapter) upload(ctx context.Context, channel, threadTS string, f bot.File) error {
	name := strings.TrimSpace(f.Name)
	if name == "" {
		name = "attachment"
	}
	if len(f.Data) == 0 {
		return approvals.Errorf(approvals.EINVALID, "slack upload %s: empty file", name)
	}
	err := a.retry(ctx, "files.upload", func() error {
		_, err := a.api.UploadFileContext(ctx, slackapi.UploadFileParameters{
			Reader:          bytes.NewReader(f.Data),
			FileSize:        len(f.Data),
			Filename:        name,
			Title:           name,
			AltTxt:          truncate(f.Alt, maxAltChars),
			Channel:         channel,
			ThreadTimestamp: threadTS,
		})
		return err
	})
	return upstream("files upload "+name, err)
}

// replyTarget is where an answer to one person goes: the response_url of their command
// or click, else an ephemeral message in the channel.
type replyTarget struct {
	responseURL string
	channel     string
	user        string
}

// reply answers the actor: through response_url when there is one (ephemeral, or
// in_channel when public), else with chat.postEphemeral or chat.postMessage. Ephemeral
// messages cannot carry files, so the image and files of a private reply go to the actor
// in a direct message and those of a public one into the channel. Failures are logged:
// nobody is left to return them to.
func (a *Adapter) reply(ctx context.Context, t replyTarget, msg bot.Message, public bool) {
	log := a.log.With("slack_user", t.user, "channel", t.channel)
	text := msg
	text.Image, text.Files = nil, nil
	sent := false
	if t.responseURL != "" {
		if err := a.respond(ctx, t.responseURL, text, public); err != nil {
			log.Warn("slack reply through response_url", approvals.LogErr, err)
		} else {
			sent = true
		}
	}
	if !sent && t.channel != "" {
		var err error
		if public {
			_, _, err = a.postMessage(ctx, t.channel, text)
		} else {
			err = a.postEphemeral(ctx, t.channel, t.user, text)
		}
		if err != nil {
			log.Warn("slack reply", approvals.LogErr, err)
		}
	}
	if msg.Image == nil && len(msg.Files) == 0 {
		return
	}
	var err error
	if public {
		err = a.sendFiles(ctx, t.channel, "", msg)
	} else {
		err = a.Tell(ctx, bot.Recipient{Actor: &approvals.Actor{Platform: PlatformName, ID: t.user}},
			bot.Message{Title: "Attachments: " + msg.Title, Image: msg.Image, Files: msg.Files})
	}
	if err != nil {
		log.Warn("slack reply attachments", approvals.LogErr, err)
	}
}

// responseMessage is the JSON a response_url takes.
type responseMessage struct {
	ResponseType    string           `json:"response_type"`
	ReplaceOriginal bool             `json:"replace_original"`
	Text            string           `json:"text"`
	Blocks          []slackapi.Block `json:"blocks,omitempty"`
}

// respond posts msg to a response_url. Interactions get replace_original false: the
// answer to a click is a new message for the clicker, never a change of the card.
func (a *Adapter) respond(ctx context.Context, responseURL string, msg bot.Message, public bool) error {
	if err := checkResponseURL(responseURL); err != nil {
		return err
	}
	rm := responseMessage{ResponseType: slackapi.ResponseTypeEphemeral, Text: FallbackText(msg), Blocks: Render(msg)}
	if public {
		rm.ResponseType = slackapi.ResponseTypeInChannel
	}
	body, err := json.Marshal(rm)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return a.retry(ctx, "response_url", func() error {
		return a.postResponse(ctx, responseURL, body)
	})
}

func (a *Adapter) postResponse(ctx context.Context, responseURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("response_url request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		// A response_url is a capability: keep it out of errors, and so out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post response_url: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &slackapi.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("post response_url: status %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "application/json" {
		var r slackapi.SlackResponse
		if json.Unmarshal(data, &r) == nil && !r.Ok && r.Error != "" {
			return fmt.Errorf("post response_url: %s", r.Error)
		}
	}
	return nil
}

// checkResponseURL refuses response URLs that are not https (plain http only to this
// machine, for tests): the URL comes from a verified payload, and this keeps it so.
func checkResponseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("response_url is not a URL")
	}
	if u.Scheme == "https" || (u.Scheme == "http" && approvals.IsLoopbackHost(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("response_url scheme %q refused", u.Scheme)
}
