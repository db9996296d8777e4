package approvals

// Log attribute keys, one set for every package, so that one search finds every line
// about a request, an actor or an error whichever package wrote it.
const (
	LogErr       = "err"
	LogRequestID = "request_id"
	LogActor     = "actor"
	LogUser      = "user"
	LogPlatform  = "platform"
	LogComponent = "component"
)
