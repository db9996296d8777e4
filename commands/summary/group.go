package summary

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mfabot/mfabot/approvals"
)

// Members streams a group's transitive user members, page by page; graph.Client
// implements it.
type Members interface {
	GroupMembers(ctx context.Context, groupID string, fn func([]approvals.User) error) error
}

// Groups resolves the group of summary <group>, and lists members for it and for the
// groups summary.exclude names; graph.Client implements it.
type Groups interface {
	Members
	ResolveGroup(ctx context.Context, ref string) (approvals.Group, error)
}

// scopeSet holds the members of the group a summary is of; the zero scopeSet is the
// whole tenant, which holds everyone.
type scopeSet struct {
	ids *approvals.IDSet
}

func (s scopeSet) add(u approvals.User) {
	if s.ids != nil {
		s.ids.Add(u.ID)
	}
}

func (s scopeSet) has(id string) bool { return s.ids == nil || s.ids.Has(id) }

// scope is where a summary reads its users: /users for the tenant, the group's transitive
// members for a group (whose registration entries alone are then counted).
func scope(src Source, opt Options) (func(context.Context, func([]approvals.User) error) error, scopeSet, error) {
	if opt.Group == nil {
		return src.Users, scopeSet{}, nil
	}
	if opt.Members == nil {
		return nil, scopeSet{}, errors.New("summary of a group: no member source")
	}
	ids := approvals.NewIDSet()
	g := *opt.Group
	return func(ctx context.Context, fn func([]approvals.User) error) error {
		return opt.Members.GroupMembers(ctx, g.ID, fn)
	}, scopeSet{ids: &ids}, nil
}

// groupKeyPrefix marks the snapshots of one group's summary in the Store, kept apart
// from the tenant's: "group:<object id>:2026-11-22" sorts after every day, so a range of
// days never takes one in.
const groupKeyPrefix = "group:"

// snapshotKey is the Store key of the snapshot of day for scope (nil: the tenant).
func snapshotKey(scope *approvals.Group, day string) string {
	if scope == nil {
		return day
	}
	return groupKeyPrefix + strings.ToLower(scope.ID) + ":" + day
}

// byDay turns the snapshots of scope, keyed as stored, back into snapshots by day.
func byDay(scope *approvals.Group, snaps map[string][]byte) map[string][]byte {
	if scope == nil {
		return snaps
	}
	out := make(map[string][]byte, len(snaps))
	prefix := snapshotKey(scope, "")
	for k, v := range snaps {
		if day, ok := strings.CutPrefix(k, prefix); ok {
			out[day] = v
		}
	}
	return out
}

// PostGroup builds the summary of one group's transitive members now (summary <group>:
// departments run their own campaigns) and posts it to every platform, outside the
// schedule. Its daily snapshots are kept apart from the tenant's, for its own trend. A
// group mfabot cannot find is the directory's error (ENOTFOUND, or EINVALID naming the
// candidates of an ambiguous name).
func (j *Job) PostGroup(ctx context.Context, ref string) error {
	if j.Groups == nil {
		return approvals.Errorf(approvals.EINVALID, "the summary of one group is not configured on this mfabot")
	}
	g, err := j.Groups.ResolveGroup(ctx, ref)
	if err != nil {
		return err
	}
	if g.DisplayName == "" {
		g.DisplayName = firstNonEmpty(g.MailNickname, g.ID)
	}
	msg, err := j.buildScoped(ctx, j.Schedule.Day(j.now()), &g)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range j.Platforms {
		if _, err := p.Post(ctx, msg); err != nil {
			errs = append(errs, fmt.Errorf("post to %s: %w", p.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// fileScope is what the names of a summary's files carry of its scope: "" for the
// tenant, a file-safe form of the group's name and a dash for a group.
func fileScope(s *Summary) string {
	if s.Scope == nil {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(firstNonEmpty(s.Scope.MailNickname, s.Scope.DisplayName, s.Scope.ID)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "group"
	}
	return name + "-"
}
