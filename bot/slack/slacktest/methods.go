package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessageText is chat.postMessage's limit for the text argument.
const maxMessageText = 40000

type method func(args map[string]string) (map[string]any, *apiError)

// methods maps Web API method names to their handlers. Handlers run with s.mu held.
func (s *Server) methods() map[string]method {
	return map[string]method{
		"auth.test":                    s.authTest,
		"bots.info":                    s.botsInfo,
		"chat.postMessage":             s.postMessage,
		"chat.update":                  s.update,
		"chat.postEphemeral":           s.postEphemeral,
		"views.open":                   s.viewsOpen,
		"users.info":                   s.usersInfo,
		"users.lookupByEmail":          s.lookupByEmail,
		"users.list":                   s.usersList,
		"conversations.open":           s.conversationsOpen,
		"files.getUploadURLExternal":   s.getUploadURL,
		"files.completeUploadExternal": s.completeUpload,
		"apps.connections.open":        s.connectionsOpen,
	}
}

func (s *Server) authTest(map[string]string) (map[string]any, *apiError) {
	res := map[string]any{
		"url":     "https://" + TeamDomain + ".slack.com/",
		"team":    "mfabot test",
		"user":    "mfabot",
		"team_id": TeamID,
		"user_id": BotUserID,
		"bot_id":  BotID,
	}
	if s.EnterpriseID != "" {
		res["enterprise_id"] = s.EnterpriseID
	}
	return res, nil
}

func (s *Server) botsInfo(args map[string]string) (map[string]any, *apiError) {
	if args["bot"] != BotID {
		return nil, fail("bot_not_found")
	}
	return map[string]any{"bot": map[string]any{
		"id": BotID, "deleted": false, "name": "mfabot", "app_id": AppID, "user_id": BotUserID,
	}}, nil
}

// knownChannel reports whether the bot can post in ch: a channel it was added to, or a
// direct message opened with conversations.open.
func (s *Server) knownChannel(ch string) bool {
	return s.channels[ch]
}

func (s *Server) postMessage(args map[string]string) (map[string]any, *apiError) {
	ch := args["channel"]
	if dm, err := s.userChannel(ch); err != nil {
		return nil, err
	} else if dm != "" {
		ch = dm // a user id: the app's direct conversation with them
	}
	switch {
	case ch == "":
		return nil, fail("channel_not_found")
	case !s.knownChannel(ch):
		return nil, fail("channel_not_found")
	}
	blocks, err := messageBlocks(args)
	if err != nil {
		return nil, err
	}
	text := args["text"]
	if text == "" && blocks == nil {
		return nil, fail("no_text")
	}
	if utf8.RuneCountInString(text) > maxMessageText {
		return nil, fail("msg_too_long")
	}
	if thread := args["thread_ts"]; thread != "" {
		if _, ok := s.messages[ch+"/"+thread]; !ok {
			return nil, fail("thread_not_found")
		}
	}
	ts := s.newTS()
	m := &Message{Channel: ch, TS: ts, ThreadTS: args["thread_ts"], Text: text, Blocks: blocks}
	key := ch + "/" + ts
	s.messages[key] = m
	s.order = append(s.order, key)
	return map[string]any{"channel": ch, "ts": ts, "message": messageJSON(m)}, nil
}

func (s *Server) update(args map[string]string) (map[string]any, *apiError) {
	ch, ts := args["channel"], args["ts"]
	m, ok := s.messages[ch+"/"+ts]
	if !ok {
		return nil, fail("message_not_found")
	}
	blocks, err := messageBlocks(args)
	if err != nil {
		return nil, err
	}
	if args["text"] == "" && blocks == nil {
		return nil, fail("no_text")
	}
	if utf8.RuneCountInString(args["text"]) > maxMessageText {
		return nil, fail("msg_too_long")
	}
	if _, set := args["text"]; set {
		m.Text = args["text"]
	}
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Updates++
	return map[string]any{"channel": ch, "ts": ts, "text": m.Text, "message": messageJSON(m)}, nil
}

func (s *Server) postEphemeral(args map[string]string) (map[string]any, *apiError) {
	ch, user := args["channel"], args["user"]
	if !s.knownChannel(ch) {
		return nil, fail("channel_not_found")
	}
	if _, ok := s.users[user]; !ok {
		return nil, fail("user_not_in_channel")
	}
	blocks, err := messageBlocks(args)
	if err != nil {
		return nil, err
	}
	if args["text"] == "" && blocks == nil {
		return nil, fail("no_text")
	}
	return map[string]any{"message_ts": s.newTS()}, nil
}

func (s *Server) viewsOpen(args map[string]string) (map[string]any, *apiError) {
	trigger := args["trigger_id"]
	exp, ok := s.triggers[trigger]
	switch {
	case trigger == "":
		return nil, fail("invalid_arguments", "[ERROR] missing required field: trigger_id")
	case !ok:
		return nil, fail("invalid_trigger_id")
	case s.now().After(exp):
		return nil, fail("expired_trigger_id")
	}
	delete(s.triggers, trigger) // a trigger opens one view
	raw := json.RawMessage(args["view"])
	if err := validateModal(raw); err != nil {
		return nil, err
	}
	var v struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
	}
	_ = json.Unmarshal(raw, &v)
	id := s.nextID("V")
	s.views[id] = &View{ID: id, TriggerID: trigger, CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata, JSON: raw}
	var view map[string]any
	_ = json.Unmarshal(raw, &view)
	view["id"], view["team_id"], view["app_id"], view["bot_id"] = id, TeamID, AppID, BotID
	view["state"] = map[string]any{"values": map[string]any{}}
	view["hash"] = fmt.Sprintf("%d.%s", time.Now().Unix(), id)
	return map[string]any{"view": view}, nil
}

func (s *Server) usersInfo(args map[string]string) (map[string]any, *apiError) {
	u, ok := s.users[args["user"]]
	if !ok {
		return nil, fail("user_not_found")
	}
	return map[string]any{"user": userJSON(u)}, nil
}

func (s *Server) lookupByEmail(args map[string]string) (map[string]any, *apiError) {
	email := strings.ToLower(args["email"])
	for _, u := range s.users {
		if u.Email != "" && strings.ToLower(u.Email) == email {
			return map[string]any{"user": userJSON(u)}, nil
		}
	}
	return nil, fail("users_not_found")
}

func (s *Server) conversationsOpen(args map[string]string) (map[string]any, *apiError) {
	ids := strings.Split(args["users"], ",")
	if args["users"] == "" || len(ids) != 1 {
		return nil, fail("not_enough_users")
	}
	u, ok := s.users[ids[0]]
	switch {
	case !ok:
		return nil, fail("user_not_found")
	case u.Bot:
		return nil, fail("cannot_dm_bot")
	case u.Deleted:
		return nil, fail("user_disabled")
	}
	ch := "D" + strings.TrimLeft(u.ID, "UW")
	already := s.channels[ch]
	s.channels[ch] = true
	return map[string]any{"channel": map[string]any{"id": ch}, "already_open": already}, nil
}

func (s *Server) getUploadURL(args map[string]string) (map[string]any, *apiError) {
	name := args["filename"]
	n, err := strconv.Atoi(args["length"])
	switch {
	case name == "":
		return nil, fail("invalid_arguments", "[ERROR] missing required field: filename")
	case err != nil || n <= 0:
		return nil, fail("invalid_arguments", "[ERROR] length must be a positive integer")
	}
	if alt := args["alt_txt"]; utf8.RuneCountInString(alt) > 1000 {
		return nil, fail("invalid_arguments", "[ERROR] alt_txt must be at most 1000 characters")
	}
	id := s.nextID("F")
	s.files[id] = &File{ID: id, Name: name, AltText: args["alt_txt"], Length: n}
	return map[string]any{"upload_url": s.URL + "/upload/" + id, "file_id": id}, nil
}

func (s *Server) completeUpload(args map[string]string) (map[string]any, *apiError) {
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(args["files"]), &summaries); err != nil || len(summaries) == 0 {
		return nil, fail("invalid_arguments", "[ERROR] files must be a JSON array of {id, title}")
	}
	ch := args["channel_id"]
	if ch != "" && !s.knownChannel(ch) {
		return nil, fail("channel_not_found")
	}
	if thread := args["thread_ts"]; thread != "" {
		if _, ok := s.messages[ch+"/"+thread]; !ok {
			return nil, fail("invalid_thread_ts")
		}
	}
	var out []map[string]any
	for _, sum := range summaries {
		f, ok := s.files[sum.ID]
		if !ok || f.Data == nil {
			return nil, fail("file_not_found")
		}
		f.Title, f.Channel, f.ThreadTS, f.Shared = sum.Title, ch, args["thread_ts"], ch != ""
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return map[string]any{"files": out}, nil
}

func (s *Server) connectionsOpen(map[string]string) (map[string]any, *apiError) {
	ticket := s.nextID("ticket-")
	return map[string]any{"url": "ws" + strings.TrimPrefix(s.URL, "http") + "/socket?ticket=" + ticket}, nil
}

// serveUpload takes the bytes of a file at its upload URL: raw or as multipart "file",
// as Slack's upload URLs accept both.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	data, err := readUpload(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Method: "upload", Args: map[string]string{"file_id": id}, Token: token}
	f, ok := s.files[id]
	switch {
	case !ok:
		call.Error = "file_not_found"
		s.record(call)
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		call.Error = "unreadable_upload"
		s.record(call)
		http.Error(w, "unreadable upload", http.StatusBadRequest)
		return
	case len(data) != f.Length:
		call.Error = "length_mismatch"
		s.record(call)
		http.Error(w, fmt.Sprintf("expected %d bytes, got %d", f.Length, len(data)), http.StatusBadRequest)
		return
	}
	f.Data = data
	call.Args["length"] = strconv.Itoa(len(data))
	s.record(call)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

func readUpload(r *http.Request) ([]byte, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return io.ReadAll(io.LimitReader(r.Body, 64<<20))
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part: %w", err)
		}
		if p.FormName() == "file" {
			return io.ReadAll(io.LimitReader(p, 64<<20))
		}
	}
}

// serveResponse takes a message posted to a response_url.
func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	args, _, err := decodeArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	args["url"] = s.URL + "/response/" + id
	call := Call{Method: "response_url", Args: args}
	if d, ok := s.limited("response_url"); ok {
		call.RateLimited = true
		s.record(call)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	left, ok := s.responses[id]
	switch {
	case !ok:
		call.Error = "invalid_url"
	case left <= 0:
		call.Error = "used_url"
	case err != nil:
		call.Error = "invalid_payload"
	case args["text"] == "" && args["blocks"] == "":
		call.Error = "no_text"
	default:
		if args["blocks"] != "" {
			if aerr := validateBlocks(json.RawMessage(args["blocks"]), maxMessageBlocks); aerr != nil {
				call.Error = aerr.code
			}
		}
	}
	s.record(call)
	if call.Error != "" {
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	s.responses[id] = left - 1
	writeJSON(w, map[string]any{"ok": true})
}

// newTS returns a new, increasing message timestamp. s.mu must be held.
func (s *Server) newTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
}

// messageBlocks validates the blocks argument, nil when absent.
func messageBlocks(args map[string]string) (json.RawMessage, *apiError) {
	b, ok := args["blocks"]
	if !ok || b == "" {
		return nil, nil
	}
	raw := json.RawMessage(b)
	if err := validateBlocks(raw, maxMessageBlocks); err != nil {
		return nil, err
	}
	return raw, nil
}

func messageJSON(m *Message) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "bot_id": BotID, "user": BotUserID}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	return out
}

func userJSON(u User) map[string]any {
	return map[string]any{
		"id":                 u.ID,
		"team_id":            u.TeamID,
		"name":               u.Name,
		"real_name":          u.RealName,
		"deleted":            u.Deleted,
		"is_bot":             u.Bot,
		"is_email_confirmed": !u.EmailUnconfirmed && u.Email != "",
		"profile": map[string]any{
			"real_name":    u.RealName,
			"display_name": u.Name,
			"email":        u.Email,
		},
	}
}
