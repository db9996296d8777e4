package slacktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignRequest returns the headers Slack sends with body: X-Slack-Request-Timestamp and
// X-Slack-Signature (v0, HMAC-SHA256 with secret over "v0:{timestamp}:{body}"), and the
// form content type.
func SignRequest(secret string, ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// Command is a slash command invocation.
type Command struct {
	TeamID, TeamDomain, EnterpriseID string
	AppID                            string
	ChannelID, ChannelName           string
	UserID, UserName                 string
	Command, Text                    string
	ResponseURL, TriggerID           string
}

// Form is the command as Slack posts it to a slash command's URL, in Slack's field order.
func (c Command) Form() []byte {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
	}
	add("token", "legacy-verification-token")
	add("team_id", c.TeamID)
	add("team_domain", c.TeamDomain)
	if c.EnterpriseID != "" {
		add("enterprise_id", c.EnterpriseID)
		add("enterprise_name", "mfabot test org")
	}
	add("channel_id", c.ChannelID)
	add("channel_name", c.ChannelName)
	add("user_id", c.UserID)
	add("user_name", c.UserName)
	add("command", c.Command)
	add("text", c.Text)
	add("api_app_id", c.AppID)
	add("is_enterprise_install", "false")
	add("response_url", c.ResponseURL)
	add("trigger_id", c.TriggerID)
	return []byte(b.String())
}

// JSON is the command as a Socket Mode slash_commands envelope carries it.
func (c Command) JSON() []byte {
	m := map[string]string{
		"token": "legacy-verification-token", "team_id": c.TeamID, "team_domain": c.TeamDomain,
		"channel_id": c.ChannelID, "channel_name": c.ChannelName, "user_id": c.UserID,
		"user_name": c.UserName, "command": c.Command, "text": c.Text, "api_app_id": c.AppID,
		"is_enterprise_install": "false", "response_url": c.ResponseURL, "trigger_id": c.TriggerID,
	}
	if c.EnterpriseID != "" {
		m["enterprise_id"], m["enterprise_name"] = c.EnterpriseID, "mfabot test org"
	}
	b, _ := json.Marshal(m)
	return b
}

// Press is a button press, reported as a block_actions interaction.
type Press struct {
	TeamID, EnterpriseID, AppID  string
	UserID, UserName, UserTeamID string
	ChannelID, MessageTS         string
	BlockID, ActionID            string
	Label, Value, Style          string
	ResponseURL, TriggerID       string
}

// Payload is the block_actions JSON Slack sends for the press.
func (p Press) Payload() []byte {
	action := map[string]any{
		"type": "button", "action_id": p.ActionID, "block_id": p.BlockID,
		"text":  map[string]any{"type": "plain_text", "text": p.Label, "emoji": true},
		"value": p.Value, "action_ts": fmt.Sprintf("%d.000100", time.Now().Unix()),
	}
	if p.Style != "" {
		action["style"] = p.Style
	}
	m := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": p.UserID, "username": p.UserName, "name": p.UserName, "team_id": p.UserTeamID},
		"api_app_id":   p.AppID,
		"token":        "legacy-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": p.MessageTS, "channel_id": p.ChannelID, "is_ephemeral": false},
		"trigger_id":   p.TriggerID,
		"team":         map[string]any{"id": p.TeamID, "domain": TeamDomain},
		"enterprise":   enterprise(p.EnterpriseID),
		"channel":      map[string]any{"id": p.ChannelID, "name": "approvals"},
		"message":      map[string]any{"type": "message", "ts": p.MessageTS, "bot_id": BotID},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": p.ResponseURL,
		"actions":      []any{action},

		"is_enterprise_install": false,
	}
	b, _ := json.Marshal(m)
	return b
}

// Submission is a submitted modal, reported as a view_submission interaction.
type Submission struct {
	TeamID, EnterpriseID, AppID  string
	UserID, UserName, UserTeamID string
	ViewID, CallbackID           string
	PrivateMetadata              string
	TriggerID                    string
	// Values are the plain_text_input values by block id and action id.
	Values map[string]map[string]string
	// Checked are the values of the options chosen in checkboxes, by block id and
	// action id.
	Checked map[string]map[string][]string
}

// Payload is the view_submission JSON Slack sends for the submission.
func (s Submission) Payload() []byte {
	values := map[string]any{}
	for blockID, actions := range s.Values {
		vs := map[string]any{}
		for actionID, v := range actions {
			vs[actionID] = map[string]any{"type": "plain_text_input", "value": v}
		}
		values[blockID] = vs
	}
	for blockID, actions := range s.Checked {
		vs, _ := values[blockID].(map[string]any)
		if vs == nil {
			vs = map[string]any{}
		}
		for actionID, chosen := range actions {
			opts := []any{}
			for _, v := range chosen {
				opts = append(opts, map[string]any{"value": v, "text": map[string]any{"type": "plain_text", "text": v}})
			}
			vs[actionID] = map[string]any{"type": "checkboxes", "selected_options": opts}
		}
		values[blockID] = vs
	}
	m := map[string]any{
		"type":       "view_submission",
		"team":       map[string]any{"id": s.TeamID, "domain": TeamDomain},
		"user":       map[string]any{"id": s.UserID, "username": s.UserName, "name": s.UserName, "team_id": s.UserTeamID},
		"api_app_id": s.AppID,
		"token":      "legacy-verification-token",
		"trigger_id": s.TriggerID,
		"view": map[string]any{
			"id": s.ViewID, "team_id": s.TeamID, "type": "modal", "app_id": s.AppID, "bot_id": BotID,
			"callback_id": s.CallbackID, "private_metadata": s.PrivateMetadata,
			"state": map[string]any{"values": values}, "hash": "1.hash",
		},
		"response_urls":         []any{},
		"enterprise":            enterprise(s.EnterpriseID),
		"is_enterprise_install": false,
	}
	b, _ := json.Marshal(m)
	return b
}

func enterprise(id string) any {
	if id == "" {
		return nil
	}
	return map[string]any{"id": id, "name": "mfabot test org"}
}

// Command returns u's "/mfa text" in channel, from this workspace and app, with a fresh
// response URL and trigger.
func (s *Server) Command(u User, channel, text string) Command {
	return Command{
		TeamID: TeamID, TeamDomain: TeamDomain, EnterpriseID: s.EnterpriseID, AppID: AppID,
		ChannelID: channel, ChannelName: "approvals", UserID: u.ID, UserName: u.Name,
		Command: "/mfa", Text: text, ResponseURL: s.NewResponseURL(), TriggerID: s.NewTriggerID(),
	}
}

// Press returns u pressing the button labelled label on a posted message, with the action
// id, block id and value the message carries, a fresh response URL and trigger.
func (s *Server) Press(u User, channel, ts, label string) (Press, error) {
	m, ok := s.Message(channel, ts)
	if !ok {
		return Press{}, fmt.Errorf("slacktest: no message %s/%s", channel, ts)
	}
	// Only actions blocks hold buttons; other blocks' elements (context text) differ.
	var blocks []struct {
		Type     string            `json:"type"`
		BlockID  string            `json:"block_id"`
		Elements []json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		return Press{}, fmt.Errorf("slacktest: message blocks: %w", err)
	}
	type button struct {
		Type     string     `json:"type"`
		ActionID string     `json:"action_id"`
		Value    string     `json:"value"`
		Style    string     `json:"style"`
		Text     textObject `json:"text"`
	}
	for i, b := range blocks {
		if b.Type != "actions" {
			continue
		}
		blockID := b.BlockID
		if blockID == "" {
			blockID = fmt.Sprintf("slacktest-%d", i) // Slack fills in a block id
		}
		for _, raw := range b.Elements {
			var e button
			if json.Unmarshal(raw, &e) != nil {
				continue
			}
			if e.Type == "button" && e.Text.Text == label {
				return Press{
					TeamID: TeamID, EnterpriseID: s.EnterpriseID, AppID: AppID,
					UserID: u.ID, UserName: u.Name, UserTeamID: teamOf(u),
					ChannelID: channel, MessageTS: ts, BlockID: blockID, ActionID: e.ActionID,
					Label: label, Value: e.Value, Style: e.Style,
					ResponseURL: s.NewResponseURL(), TriggerID: s.NewTriggerID(),
				}, nil
			}
		}
	}
	return Press{}, fmt.Errorf("slacktest: no button %q on message %s/%s", label, channel, ts)
}

// Submit returns u submitting an opened modal with the given input values.
func (s *Server) Submit(u User, viewID string, values map[string]map[string]string) (Submission, error) {
	s.mu.Lock()
	v, ok := s.views[viewID]
	s.mu.Unlock()
	if !ok {
		return Submission{}, fmt.Errorf("slacktest: no view %s", viewID)
	}
	return Submission{
		TeamID: TeamID, EnterpriseID: s.EnterpriseID, AppID: AppID,
		UserID: u.ID, UserName: u.Name, UserTeamID: teamOf(u),
		ViewID: v.ID, CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata,
		TriggerID: s.NewTriggerID(), Values: values,
	}, nil
}

func teamOf(u User) string {
	if u.TeamID != "" {
		return u.TeamID
	}
	return TeamID
}

// Sender sends signed requests to an adapter's HTTP endpoints the way Slack does.
type Sender struct {
	// URL is the adapter's base URL; the paths /slack/commands and /slack/interactions are
	// appended.
	URL string
	// Secret is the signing secret.
	Secret string
	// Now is the signing time; time.Now when nil.
	Now func() time.Time
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// Answer is the adapter's HTTP answer to a request.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Command posts a signed slash command to /slack/commands.
func (s Sender) Command(ctx context.Context, c Command) (Answer, error) {
	body := c.Form()
	return s.Post(ctx, "/slack/commands", body, s.sign(body))
}

// Interaction posts a signed interaction payload to /slack/interactions, form-encoded as
// payload=<JSON>.
func (s Sender) Interaction(ctx context.Context, payload []byte) (Answer, error) {
	body := []byte("payload=" + url.QueryEscape(string(payload)))
	return s.Post(ctx, "/slack/interactions", body, s.sign(body))
}

func (s Sender) sign(body []byte) http.Header {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	return SignRequest(s.Secret, now, body)
}

// Post sends body to path with the given headers, signed or not: for tests of forged
// and stale requests.
func (s Sender) Post(ctx context.Context, path string, body []byte, h http.Header) (Answer, error) {
	if s.URL == "" {
		return Answer{}, errors.New("slacktest: Sender without URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	req.Header = h.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}
