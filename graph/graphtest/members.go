package graphtest

import (
	"fmt"
	"slices"
	"strings"
)

// RemoveMember takes a user (by object id or UPN) out of a group's direct members, as
// when someone leaves a protected group. Removing a non-member is a no-op.
func (t *Tenant) RemoveMember(groupID, userRef string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	gi, ok := t.groupByID[strings.ToLower(groupID)]
	if !ok {
		return fmt.Errorf("remove member: group %s: %w", groupID, ErrNotFound)
	}
	ui, ok := t.lookupUser(userRef)
	if !ok {
		return fmt.Errorf("remove member %s: %w", userRef, ErrNotFound)
	}
	if k := slices.Index(t.groups[gi].users, ui); k >= 0 {
		t.groups[gi].users = slices.Delete(t.groups[gi].users, k, k+1)
		t.dropCache()
	}
	return nil
}
