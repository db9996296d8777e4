package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// executorOwner names this process in the leases it takes and in each request's
// "started" audit entry: the host (a Kubernetes pod's name) and the process id tell an
// operator which replica ran a request, and the random part tells apart a process from
// its predecessor that had the same host and pid (a restarted container's pid 1).
func executorOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("mfabot-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
