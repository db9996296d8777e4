package slack

// Closing reports whether Close has been called. Tests need it because Close announces
// nothing when it begins: it blocks until the work it waits for is done, and the closed
// flag lives in bot.Background, which has no signal for it.
func (a *Adapter) Closing() bool { return a.bg.Closed() }
