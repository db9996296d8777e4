package teams

import "time"

// SetRetryBase shortens the connector's backoff so that tests of retries stay fast.
func SetRetryBase(a *Adapter, base time.Duration) {
	a.conn.retry.base = base
	a.conn.retry.max = 4 * base
}

// KeyWaiters is how many requests are waiting for the signing-key fetch in flight.
func KeyWaiters(a *Adapter) int {
	k := a.auth.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.waiting
}
