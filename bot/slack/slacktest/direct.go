package slacktest

import (
	"sort"
	"strconv"
	"strings"
)

// userChannel maps a chat.postMessage channel that is a user id (U…/W…) to the app's
// direct conversation with that user, opening it, as Slack does; "" for any other channel.
// s.mu must be held.
func (s *Server) userChannel(ch string) (string, *apiError) {
	if !strings.HasPrefix(ch, "U") && !strings.HasPrefix(ch, "W") {
		return "", nil
	}
	u, ok := s.users[ch]
	switch {
	case !ok:
		return "", fail("channel_not_found")
	case u.Bot:
		return "", fail("cannot_dm_bot")
	case u.Deleted:
		return "", fail("user_disabled")
	}
	dm := "D" + strings.TrimLeft(u.ID, "UW")
	s.channels[dm] = true
	return dm, nil
}

// DirectMessages returns the messages the bot sent user id in their direct conversation,
// oldest first.
func (s *Server) DirectMessages(userID string) []Message {
	return s.Messages("D" + strings.TrimLeft(userID, "UW"))
}

// usersList is users.list: the members by id, limit a page (Slack caps it at 1,000), with
// an opaque cursor in response_metadata.next_cursor while more follow.
func (s *Server) usersList(args map[string]string) (map[string]any, *apiError) {
	limit := 0
	if v := args["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fail("invalid_limit")
		}
		limit = n
	}
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	from := 0
	if c := args["cursor"]; c != "" {
		rest, ok := strings.CutPrefix(c, "dXNlcjo")
		n, err := strconv.Atoi(rest)
		if !ok || err != nil || n < 0 || n > len(ids) {
			return nil, fail("invalid_cursor")
		}
		from = n
	}
	to := min(from+limit, len(ids))
	members := make([]map[string]any, 0, to-from)
	for _, id := range ids[from:to] {
		members = append(members, userJSON(s.users[id]))
	}
	next := ""
	if to < len(ids) {
		next = "dXNlcjo" + strconv.Itoa(to)
	}
	return map[string]any{"members": members, "cache_ts": 0, "response_metadata": map[string]any{"next_cursor": next}}, nil
}
