package githubsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // X-Hub-Signature is SHA-1, as GitHub sends it
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// hookshotVersion is the hex suffix of the User-Agent GitHub's deliveries
// carry ("GitHub-Hookshot/<hex>").
const hookshotVersion = "e4c0a67"

// maxDeliveryLog bounds each hook's delivery log; older entries are dropped.
const maxDeliveryLog = 10_000

// maxLoggedResponse caps the response body kept in a delivery's log entry.
const maxLoggedResponse = 64 << 10

// Delivery is one attempt to deliver an event to a hook, as the delivery
// log records it.
type Delivery struct {
	ID int64
	// GUID is the X-GitHub-Delivery value, shared by every hook that got
	// the same event and kept by redeliveries.
	GUID   string
	HookID int64
	// Target is the hook's target ("owner/name", org login, AppTarget(id)).
	Target     string
	Event      string
	Action     string
	Redelivery bool
	// URL is where the delivery was sent.
	URL         string
	DeliveredAt time.Time
	Duration    time.Duration
	// StatusCode is the hook's HTTP status, 0 when there was no answer.
	StatusCode int
	// Status is "OK" for a 2xx answer, "Invalid HTTP Response: <code>"
	// otherwise, or what went wrong ("timed out", "failed to connect to
	// host", ...).
	Status         string
	RequestHeaders http.Header
	// Body is the exact request body sent (for form hooks,
	// "payload=<url-encoded JSON>").
	Body []byte
	// Payload is the event's JSON payload.
	Payload         []byte
	ResponseHeaders http.Header
	ResponseBody    string
	RepositoryID    int64
	InstallationID  int64
}

// OK reports whether the hook answered with a 2xx status.
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

func (d *Delivery) clone() Delivery {
	out := *d
	out.RequestHeaders = d.RequestHeaders.Clone()
	out.ResponseHeaders = d.ResponseHeaders.Clone()
	out.Body = bytes.Clone(d.Body)
	out.Payload = bytes.Clone(d.Payload)
	return out
}

// event is something that happened, to be delivered to subscribed hooks.
type event struct {
	name           string
	action         string
	guid           string
	payload        []byte
	repositoryID   int64
	installationID int64
}

func newEvent(name string, payload []byte) (event, error) {
	var head struct {
		Action       string `json:"action"`
		Installation *struct {
			ID int64 `json:"id"`
		} `json:"installation"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return event{}, fmt.Errorf("payload of %s event is not a JSON object: %w", name, err)
	}
	ev := event{name: name, action: head.Action, guid: uuid.NewString(), payload: bytes.Clone(payload)}
	if head.Installation != nil {
		ev.installationID = head.Installation.ID
	}
	return ev, nil
}

// hookTarget is what a delivery needs to know about a hook, read under the
// lock before sending.
type hookTarget struct {
	id         int64
	owner      *hookOwner
	config     HookConfig
	targetType string
}

func (s *Server) targetOfLocked(h *hookState) hookTarget {
	t := hookTarget{id: h.id, owner: h.owner, config: h.config}
	switch h.owner.kind {
	case repoTarget:
		t.targetType = "repository"
	case orgTarget:
		t.targetType = "organization"
	default:
		t.targetType = "integration"
	}
	return t
}

// deliver sends ev to one hook and logs the attempt on it.
func (s *Server) deliver(h *hookState, ev event, redelivery bool) Delivery {
	s.mu.Lock()
	t := s.targetOfLocked(h)
	s.mu.Unlock()

	d := s.attempt(t, ev)
	d.Redelivery = redelivery

	s.mu.Lock()
	defer s.mu.Unlock()
	d.ID = s.nextID(&s.ids.delivery)
	h.log = append(h.log, &d)
	if len(h.log) > maxDeliveryLog {
		h.log = slices.Delete(h.log, 0, len(h.log)-maxDeliveryLog)
	}
	h.last = lastResponseOf(d)
	return d.clone()
}

func lastResponseOf(d Delivery) HookResponse {
	if d.OK() {
		return HookResponse{Code: d.StatusCode, Status: "active", Message: "OK"}
	}
	return HookResponse{Code: d.StatusCode, Status: "failed", Message: d.Status}
}

// attempt performs the HTTP request of a delivery.
func (s *Server) attempt(t hookTarget, ev event) Delivery {
	body, contentType := encodeDeliveryBody(t.config.ContentType, ev.payload)
	// Header names keep GitHub's spelling (X-GitHub-...), on the wire and
	// in the delivery log.
	headers := http.Header{
		"Accept":                                 {"*/*"},
		"Content-Type":                           {contentType},
		"User-Agent":                             {"GitHub-Hookshot/" + hookshotVersion},
		"X-GitHub-Delivery":                      {ev.guid},
		"X-GitHub-Event":                         {ev.name},
		"X-GitHub-Hook-ID":                       {strconv.FormatInt(t.id, 10)},
		"X-GitHub-Hook-Installation-Target-ID":   {strconv.FormatInt(t.owner.id, 10)},
		"X-GitHub-Hook-Installation-Target-Type": {t.targetType},
	}
	if s.opts.enterprise {
		headers["X-GitHub-Enterprise-Host"] = []string{s.enterpriseHost()}
		headers["X-GitHub-Enterprise-Version"] = []string{enterpriseVersion}
	}
	if t.config.Secret != "" {
		// GitHub signs only when the hook has a secret.
		headers["X-Hub-Signature"] = []string{"sha1=" + hexHMAC(sha1.New, t.config.Secret, body)}
		headers["X-Hub-Signature-256"] = []string{"sha256=" + hexHMAC(sha256.New, t.config.Secret, body)}
	}
	d := Delivery{
		GUID: ev.guid, HookID: t.id, Target: t.owner.name, Event: ev.name, Action: ev.action,
		URL: t.config.URL, RequestHeaders: headers, Body: body, Payload: bytes.Clone(ev.payload),
		RepositoryID: ev.repositoryID, InstallationID: ev.installationID,
	}
	if t.owner.kind == repoTarget {
		d.RepositoryID = t.owner.id
	}

	client := s.client
	if t.config.InsecureSSL == "1" {
		client = s.insecureClient
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.deliveryTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	start := time.Now()
	d.DeliveredAt = s.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.config.URL, bytes.NewReader(body))
	if err != nil {
		d.Status = "invalid URL"
		return d
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		d.Duration = time.Since(start)
		d.Status = deliveryErrorStatus(err)
		return d
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxLoggedResponse))
	d.Duration = time.Since(start)
	d.StatusCode = resp.StatusCode
	d.ResponseHeaders = resp.Header.Clone()
	d.ResponseBody = string(respBody)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		d.Status = deliveryErrorStatus(err)
	case d.OK():
		d.Status = "OK"
	default:
		d.Status = "Invalid HTTP Response: " + strconv.Itoa(resp.StatusCode)
	}
	return d
}

// encodeDeliveryBody returns the request body for the hook's content type:
// the JSON itself, or a form with the JSON in its payload field.
func encodeDeliveryBody(contentType string, payload []byte) ([]byte, string) {
	if contentType == "json" {
		return bytes.Clone(payload), "application/json"
	}
	return []byte("payload=" + url.QueryEscape(string(payload))), "application/x-www-form-urlencoded"
}

func hexHMAC(h func() hash.Hash, secret string, body []byte) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// deliveryErrorStatus words a failed delivery the way GitHub's delivery log
// does.
func deliveryErrorStatus(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "failed to connect to host"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset by peer"
	case errors.Is(err, context.Canceled):
		return "delivery canceled"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "failed to resolve host"
	}
	msg := err.Error()
	if strings.Contains(msg, "certificate") || strings.Contains(msg, "tls:") {
		return "Peer certificate cannot be authenticated with given CA certificates"
	}
	return "We couldn't deliver this payload: " + msg
}

// TriggerEvent makes event happen on target ("owner/name", organization
// login or AppTarget(id)) and delivers payload, byte for byte, to every
// active hook subscribed to it (or to "*"): the target's hooks, for a
// repository also its organization's hooks, and the webhooks of Apps
// installed on it and subscribed. It returns the attempts once all were
// made, in that order. All deliveries of one event share a GUID.
func (s *Server) TriggerEvent(target, eventName string, payload []byte) ([]Delivery, error) {
	ev, err := newEvent(eventName, payload)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	hooks, err := s.subscribersLocked(target, eventName)
	if owner, oerr := s.ownerLocked(target); oerr == nil && owner.kind == repoTarget {
		ev.repositoryID = owner.id
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, s.deliver(h, ev, false))
	}
	return out, nil
}

func (s *Server) subscribersLocked(target, eventName string) ([]*hookState, error) {
	owner, err := s.ownerLocked(target)
	if err != nil {
		return nil, err
	}
	var hooks []*hookState
	add := func(o *hookOwner) {
		for _, h := range o.hooks {
			if h.subscribed(eventName) && h.config.URL != "" {
				hooks = append(hooks, h)
			}
		}
	}
	add(owner)
	if owner.kind == repoTarget {
		org, _, _ := strings.Cut(owner.name, "/")
		if o, ok := s.orgs[strings.ToLower(org)]; ok {
			add(o.hooks)
		}
	}
	if owner.kind != appTarget {
		for _, app := range s.appsInstalledOnLocked(owner.name) {
			add(app.hook.owner)
		}
	}
	return hooks, nil
}

func (s *Server) appsInstalledOnLocked(target string) []*appState {
	var out []*appState
	seen := map[int64]bool{}
	probe := &Token{}
	for _, inst := range s.installations {
		probe.Access = inst.access
		reach := probe.canReachOrg(target)
		if strings.Contains(target, "/") {
			reach = probe.canReachRepo(target)
		}
		if reach && !seen[inst.appID] {
			seen[inst.appID] = true
			out = append(out, s.apps[inst.appID])
		}
	}
	slices.SortFunc(out, func(a, b *appState) int { return int(a.id - b.id) })
	return out
}

// Ping delivers a ping to one hook, as POST .../pings does, and returns the
// attempt.
func (s *Server) Ping(target string, hookID int64) (Delivery, error) {
	s.mu.Lock()
	h, err := s.hookLocked(target, hookID)
	s.mu.Unlock()
	if err != nil {
		return Delivery{}, err
	}
	return s.deliverPing(h)
}

// Redeliver sends a logged delivery again, as POST .../attempts does:
// same GUID and payload, a new delivery ID, redelivery true.
func (s *Server) Redeliver(target string, hookID, deliveryID int64) (Delivery, error) {
	s.mu.Lock()
	owner, err := s.ownerLocked(target)
	var h *hookState
	var orig *Delivery
	if err == nil {
		if h = owner.hook(hookID); h != nil {
			orig = h.delivery(deliveryID)
		}
		if orig == nil {
			err = fmt.Errorf("delivery %d of hook %d on %s: %w", deliveryID, hookID, target, ErrNotFound)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return Delivery{}, err
	}
	return s.deliver(h, eventOf(orig), true), nil
}

func eventOf(d *Delivery) event {
	return event{
		name: d.Event, action: d.Action, guid: d.GUID, payload: d.Payload,
		repositoryID: d.RepositoryID, installationID: d.InstallationID,
	}
}

func (h *hookState) delivery(id int64) *Delivery {
	for _, d := range h.log {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// Deliveries returns a hook's delivery log, oldest first.
func (s *Server) Deliveries(target string, hookID int64) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.hookLocked(target, hookID)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, len(h.log))
	for i, d := range h.log {
		out[i] = d.clone()
	}
	return out, nil
}
