package teams

import "time"

// SetRetryBase shortens the connector's backoff so that tests of retries stay fast.
func SetRetryBase(a *Adapter, base time.Duration) {
	a.conn.retry.base = base
	a.conn.retry.max = 4 * base
}
