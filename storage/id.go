package storage

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// crockford is Crockford's base32 alphabet: digits and upper-case letters without I, L,
// O and U, so an id read aloud or copied by hand is hard to get wrong.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idLen is the number of base32 characters of a request id: 30 random bits, about a
// billion ids, enough that an id seen in one channel does not let anyone guess others,
// short enough to type.
const idLen = 6

// newRequestID returns a fresh random id such as "R-7K2QXA".
func newRequestID() (string, error) {
	var b [idLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random request id: %w", err)
	}
	id := make([]byte, 0, 2+idLen)
	id = append(id, 'R', '-')
	for _, c := range b {
		id = append(id, crockford[c&31]) // 256 is a multiple of 32: uniform
	}
	return string(id), nil
}

// canonicalID turns a typed request id into the stored form: "r-7k2qxa", "R7K2QXA" and
// "R-7K2QXA" are the same id, and so are "R-7K2QX0" and "R-7K2QXO" (Crockford reads O
// as 0 and I, L as 1). Anything that does not look like a generated id is returned
// trimmed but otherwise unchanged; ids compare case-insensitively in SQL anyway.
func canonicalID(s string) string {
	s = strings.TrimSpace(s)
	u := strings.ToUpper(s)
	var body string
	switch {
	case strings.HasPrefix(u, "R-") && len(u) == 2+idLen:
		body = u[2:]
	case strings.HasPrefix(u, "R") && len(u) == 1+idLen:
		body = u[1:]
	default:
		return s
	}
	out := []byte("R-")
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 {
			return s
		}
		out = append(out, c)
	}
	return string(out)
}
