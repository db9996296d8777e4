package graphtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// tlsServer is the authority's HTTPS listener on loopback with a certificate made when it
// starts. MSAL talks to an authority over https only; this is written out rather than taken
// from net/http/httptest so that the demo, which runs graphtest, links no test package
// into the mfabot binary.
type tlsServer struct {
	URL    string
	cert   *x509.Certificate
	srv    *http.Server
	client *http.Client
}

func newTLSServer(h http.Handler) (*tlsServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authority key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "graphtest authority"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("authority certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("authority certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("authority listen: %w", err)
	}
	s := &tlsServer{URL: "https://" + ln.Addr().String(), cert: cert,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		_ = s.srv.Serve(tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			MinVersion:   tls.VersionTLS12,
		}))
	}()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	// The client trusts the authority and speaks plain HTTP to Graph on loopback.
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
		ForceAttemptHTTP2:   true,
	}}
	return s, nil
}

// Certificate is the server's certificate.
func (s *tlsServer) Certificate() *x509.Certificate { return s.cert }

// Client trusts the server's certificate.
func (s *tlsServer) Client() *http.Client { return s.client }

// Close stops the server and the client's idle connections.
func (s *tlsServer) Close() {
	_ = s.srv.Close()
	s.client.CloseIdleConnections()
}
