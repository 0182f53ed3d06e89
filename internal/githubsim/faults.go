package githubsim

import (
	"net"
	"net/http"
	"time"
)

// Fault describes how requests to one route misbehave. Rates are fractions
// in [0, 1]; for each request one number is drawn from the server's seeded
// generator and compared against ResetRate, then HangRate, then ErrorRate,
// then LostAnswerRate (cumulatively), so the same seed and request order
// give the same faults.
type Fault struct {
	// Latency delays every matching request before anything else happens.
	Latency time.Duration
	// ErrorRate is the fraction of requests answered with ErrorStatus.
	ErrorRate float64
	// ErrorStatus is the 5xx status of injected errors (502 when zero).
	ErrorStatus int
	// HangRate is the fraction of requests never answered: the server
	// holds them until the client gives up (or the server closes).
	HangRate float64
	// ResetRate is the fraction of requests whose connection is reset
	// without an answer.
	ResetRate float64
	// LostAnswerRate is the fraction of requests that are carried out but
	// whose answer is lost: the connection is reset instead of answering,
	// as when a network path fails after GitHub acted.
	LostAnswerRate float64
}

// FaultAll is the SetFault key that applies to every route without a fault
// of its own.
const FaultAll = "*"

// SetFault makes requests to a route misbehave. route is a Route's String()
// ("PATCH /repos/{owner}/{repo}/hooks/{hook_id}") or FaultAll. A zero Fault
// removes it.
func (s *Server) SetFault(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, route)
		return
	}
	s.faults[route] = f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

type faultKind int

const (
	noFault faultKind = iota
	faultReset
	faultHang
	faultError
	faultLostAnswer
)

func (s *Server) drawFault(rt *route) (Fault, faultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faults[rt.String()]
	if !ok {
		f, ok = s.faults[FaultAll]
	}
	if !ok {
		return Fault{}, noFault
	}
	if f.ResetRate == 0 && f.HangRate == 0 && f.ErrorRate == 0 && f.LostAnswerRate == 0 {
		return f, noFault
	}
	x := s.rng.Float64()
	switch {
	case x < f.ResetRate:
		return f, faultReset
	case x < f.ResetRate+f.HangRate:
		return f, faultHang
	case x < f.ResetRate+f.HangRate+f.ErrorRate:
		return f, faultError
	case x < f.ResetRate+f.HangRate+f.ErrorRate+f.LostAnswerRate:
		return f, faultLostAnswer
	}
	return f, noFault
}

// injectFault applies the route's fault. It reports whether the request was
// consumed by it, and whether its answer is to be lost once it is served.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, rt *route, rec *requestRecord) (consumed, loseAnswer bool) {
	f, kind := s.drawFault(rt)
	if f.Latency > 0 {
		timer := time.NewTimer(f.Latency)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
		case <-s.closing:
			timer.Stop()
		}
	}
	switch kind {
	case faultReset:
		rec.Fault = "reset"
		resetConnection(w)
		return true, false
	case faultHang:
		rec.Fault = "hang"
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		resetConnection(w)
		return true, false
	case faultLostAnswer:
		rec.Fault = "lost answer"
		return false, true
	case faultError:
		status := f.ErrorStatus
		if status == 0 {
			status = http.StatusBadGateway
		}
		rec.Fault = "error"
		rec.Status = status
		errorResponse(status, serverErrorMessage(status), docsREST).write(w)
		return true, false
	}
	return false, false
}

func serverErrorMessage(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "Service Unavailable"
	case http.StatusGatewayTimeout:
		return "Gateway Timeout"
	}
	return "Server Error"
}

// resetConnection closes the client's connection with a TCP RST, so the
// client sees "connection reset by peer" rather than a clean EOF.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
