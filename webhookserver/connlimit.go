package webhookserver

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// lingerTimeout, lingerIdle and lingerMaxBytes bound a lingering close:
	// how long, how long without a byte, and how much of a client's input
	// is read and dropped after the answer, so that the client reads the
	// answer instead of a reset. A lingering connection still counts
	// against the connection limits.
	lingerTimeout  = 5 * time.Second
	lingerIdle     = time.Second
	lingerMaxBytes = MaxBodyBytes + 1<<20
	// lingersPerSource bounds the lingering closes of one source: past it,
	// its connections answered early are closed at once (and its client
	// may see a reset), so that nobody can hold connections by having
	// requests refused.
	lingersPerSource = 4
	// maxRefusing bounds the connections being refused at once (answered
	// and closed off the accept loop); beyond it they are closed at once.
	maxRefusing = 64
	// refuseWriteTimeout bounds the write of a refused connection's answer.
	refuseWriteTimeout = time.Second
)

var lingerBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// connListener admits connections within the limits of their peer: at most
// MaxConnectionsPerIP per peer (IPv4 address or IPv6 /64), at most
// MaxConnections in all, of which MaxConnectionsPerIP are kept for peers
// that hold none. Trusted proxies, which carry everyone's traffic, are
// bound by MaxConnections only. A refused connection is answered 429 (its
// peer holds its share) or 503 (the receiver is full) when it is plain
// HTTP, and closed.
type connListener struct {
	net.Listener
	s *Server
	// plain is false under TLS, where no answer can be written before the
	// handshake.
	plain    bool
	refusing chan struct{}
}

// limitListener wraps the raw listener (under TLS, if any) with the
// connection limits and the lingering close.
func (s *Server) limitListener(ln net.Listener, plain bool) net.Listener {
	return &connListener{Listener: ln, s: s, plain: plain, refusing: make(chan struct{}, maxRefusing)}
}

// Accept returns the next connection within the limits.
func (l *connListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var key netip.Prefix
		peer, ok := netAddr(c.RemoteAddr())
		if ok {
			key = sourceKey(peer)
		}
		refusal, _ := l.s.conns.takeFirst(key, 1, ok && inPrefixes(peer, l.s.policy.trusted))
		if refusal == shareGranted {
			return &trackedConn{Conn: c, shares: l.s.conns, key: key}, nil
		}
		l.refuse(c, refusal)
	}
}

// refuse answers and closes a connection over the limits, off the accept
// loop, unless too many are being refused already.
func (l *connListener) refuse(c net.Conn, refusal shareRefusal) {
	a := errorAnswer(http.StatusServiceUnavailable, "too many connections: retry later")
	if refusal == shareOverSource {
		a = errorAnswer(http.StatusTooManyRequests, "too many connections from this address: retry later")
	}
	a.retryAfter, a.charge = inflightRetryAfter, false
	l.s.logAnswer(a, time.Now(), 0)
	if !l.plain {
		_ = c.Close()
		return
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		if _, err := c.Write(rawAnswer(a)); err == nil {
			lingerClose(c)
		}
		_ = c.Close()
	}()
}

// rawAnswer renders an answer written straight to a connection, outside
// the HTTP server.
func rawAnswer(a answer) []byte {
	b := []byte("HTTP/1.1 ")
	b = strconv.AppendInt(b, int64(a.code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(a.code)...)
	b = append(b, "\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: "...)
	b = append(b, a.retryAfter...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(a.body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, a.body...)
}

// trackedConn is an admitted connection: closing it returns its place and,
// when the answer was written before the request was read to its end,
// lingers first.
type trackedConn struct {
	net.Conn
	shares *fairShare
	key    netip.Prefix
	// lingers is set, with the source lingerKey it is charged to, when
	// the connection is to linger on close.
	lingers   atomic.Pointer[fairShare]
	lingerKey netip.Prefix
	closed    atomic.Bool
}

// Close lingers if asked to, closes the connection and returns its place.
func (c *trackedConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if lingers := c.lingers.Load(); lingers != nil {
		lingerClose(c.Conn)
		lingers.give(c.lingerKey, 1)
	}
	err := c.Conn.Close()
	c.shares.give(c.key, 1)
	return err
}

// lingerOnClose asks the connection to linger when it is closed, the
// client may still be sending a request the receiver answered early,
// within the source's share of lingering closes.
func (s *Server) lingerOnClose(c net.Conn, src source) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	t, ok := c.(*trackedConn)
	if !ok || t.lingers.Load() != nil {
		return
	}
	key := src.key()
	if s.lingers.take(key, 1, true, false) != shareGranted {
		return
	}
	t.lingerKey = key
	t.lingers.Store(s.lingers)
}

// lingerClose is the lingering close of careful servers (Apache's
// lingering_close, nginx's lingering_close): closing a connection whose
// input has unread bytes makes the kernel send a reset, and a client still
// sending its body then loses the answer it was sent. So the write side is
// closed first (the client reads the answer and then end of stream), and
// what the client still sends is read and dropped until it stops, for at
// most lingerTimeout and lingerMaxBytes. The caller then closes.
func lingerClose(c net.Conn) {
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	buf := lingerBuffers.Get().(*[32 << 10]byte)
	defer lingerBuffers.Put(buf)
	deadline := time.Now().Add(lingerTimeout)
	for read := 0; read < lingerMaxBytes; {
		next := time.Now().Add(lingerIdle)
		if next.After(deadline) {
			next = deadline
		}
		if c.SetReadDeadline(next) != nil {
			return
		}
		n, err := c.Read(buf[:])
		read += n
		if err != nil {
			return
		}
	}
}
