package slacktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketState is the Socket Mode side of the fake: the WebSocket apps.connections.open
// points at, envelopes pushed to the app, and the acks it sends back.
type socketState struct {
	mu     sync.Mutex
	conn   *websocket.Conn
	ready  chan struct{} // closed when a connection has said hello
	acks   chan Ack
	closed bool
	seq    int
}

// Ack is the app's answer to one envelope.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

func newSocketState() *socketState {
	return &socketState{ready: make(chan struct{}), acks: make(chan Ack, 64)}
}

func (s *socketState) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// serveSocket accepts the app's WebSocket, greets it as Slack does and collects acks.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ticket") == "" {
		http.Error(w, "no ticket", http.StatusUnauthorized)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	st := s.socket
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		_ = conn.Close()
		return
	}
	st.conn = conn
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": AppID},
		"debug_info":      map[string]any{"host": "slacktest", "approximate_connection_time": 3600}}
	err = conn.WriteJSON(hello)
	select {
	case <-st.ready:
	default:
		close(st.ready)
	}
	st.mu.Unlock()
	if err != nil {
		return
	}
	for {
		var a Ack
		if err := conn.ReadJSON(&a); err != nil {
			return
		}
		select {
		case st.acks <- a:
		default:
		}
	}
}

// SocketSend pushes an envelope of the given type ("slash_commands", "interactive") with
// payload to the connected app, waiting up to 10 s for it to connect, and returns the
// envelope id.
func (s *Server) SocketSend(typ string, payload []byte) (string, error) {
	st := s.socket
	select {
	case <-st.ready:
	case <-time.After(maxCallWait):
		return "", errors.New("slacktest: no Socket Mode connection")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	id := fmt.Sprintf("env-%d", st.seq)
	env := map[string]any{"envelope_id": id, "type": typ, "accepts_response_payload": true, "payload": json.RawMessage(payload)}
	if err := st.conn.WriteJSON(env); err != nil {
		return "", fmt.Errorf("slacktest: send envelope: %w", err)
	}
	return id, nil
}

// SocketAck waits for the app's ack of an envelope.
func (s *Server) SocketAck(envelopeID string, timeout time.Duration) (Ack, error) {
	deadline := time.After(timeout)
	for {
		select {
		case a := <-s.socket.acks:
			if a.EnvelopeID == envelopeID {
				return a, nil
			}
		case <-deadline:
			return Ack{}, fmt.Errorf("slacktest: no ack for %s", envelopeID)
		}
	}
}
