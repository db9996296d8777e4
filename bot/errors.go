package bot

import "errors"

// ErrUnreachable means a platform has no way to message a recipient directly.
var ErrUnreachable = errors.New("recipient not reachable on this platform")
