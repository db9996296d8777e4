package slack

// Closing reports whether Close has been called. Tests need it because Close announces
// nothing when it begins: it blocks until the work it waits for is done, and the closed
// flag lives in bot.Background, which has no signal for it.
func (a *Adapter) Closing() bool { return a.bg.Closed() }

// TestClock is what SetClock takes: the time, and a Sleep that waits on it.
type TestClock = clock

// SetClock puts a's Web API pacing on clk instead of the wall clock: a 429's hold on its
// method, the direct messages' pace, users.list's window and the member directory's age.
// Call it before a is used for anything but Connect.
func SetClock(a *Adapter, clk TestClock) {
	a.limit.clk = clk
	a.members.clk = clk
}
