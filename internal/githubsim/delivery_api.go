package githubsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// deliveryItemJSON is components/schemas/hook-delivery-item.
type deliveryItemJSON struct {
	ID             int64   `json:"id"`
	GUID           string  `json:"guid"`
	DeliveredAt    string  `json:"delivered_at"`
	Redelivery     bool    `json:"redelivery"`
	Duration       float64 `json:"duration"`
	Status         string  `json:"status"`
	StatusCode     int     `json:"status_code"`
	Event          string  `json:"event"`
	Action         *string `json:"action"`
	InstallationID *int64  `json:"installation_id"`
	RepositoryID   *int64  `json:"repository_id"`
	ThrottledAt    *string `json:"throttled_at"`
}

// deliveryJSON is components/schemas/hook-delivery.
type deliveryJSON struct {
	deliveryItemJSON
	URL      string              `json:"url"`
	Request  deliveryRequestJSON `json:"request"`
	Response deliveryAnswerJSON  `json:"response"`
}

type deliveryRequestJSON struct {
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

type deliveryAnswerJSON struct {
	Headers map[string]string `json:"headers"`
	Payload *string           `json:"payload"`
}

func deliveryItem(d *Delivery) deliveryItemJSON {
	item := deliveryItemJSON{
		ID: d.ID, GUID: d.GUID, DeliveredAt: timestamp(d.DeliveredAt), Redelivery: d.Redelivery,
		Duration: d.Duration.Seconds(), Status: d.Status, StatusCode: d.StatusCode, Event: d.Event,
	}
	if d.Action != "" {
		action := d.Action
		item.Action = &action
	}
	if d.InstallationID != 0 {
		id := d.InstallationID
		item.InstallationID = &id
	}
	if d.RepositoryID != 0 {
		id := d.RepositoryID
		item.RepositoryID = &id
	}
	return item
}

func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

func deliveryDetail(d *Delivery) deliveryJSON {
	out := deliveryJSON{
		deliveryItemJSON: deliveryItem(d),
		URL:              d.URL,
		Request:          deliveryRequestJSON{Headers: flatHeaders(d.RequestHeaders), Payload: json.RawMessage(d.Payload)},
		Response:         deliveryAnswerJSON{Headers: flatHeaders(d.ResponseHeaders)},
	}
	if d.StatusCode != 0 {
		body := d.ResponseBody
		out.Response.Payload = &body
	}
	return out
}

// listHookDeliveries serves a hook's deliveries newest first, paginated by
// cursor like GitHub: Link rel="next" carries cursor=v1_<id> of the first
// delivery on the next page.
func (s *Server) listHookDeliveries(c *call) *response {
	h, resp := s.resolveHook(c, PermRead)
	if resp != nil {
		return resp
	}
	perPage, _ := pageParams(c.r)
	q := c.r.URL.Query()
	var from int64 = -1
	if cursor := q.Get("cursor"); cursor != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(cursor, "v1_"), 10, 64)
		if err != nil || !strings.HasPrefix(cursor, "v1_") {
			return errorResponse(http.StatusBadRequest, "Invalid cursor", c.docURL())
		}
		from = id
	}
	status := q.Get("status")
	if status != "" && status != "success" && status != "failure" {
		return validationFailed(c.docURL(), fieldError{Resource: "HookDelivery", Field: "status", Code: "invalid"})
	}

	s.mu.Lock()
	var matching []*Delivery
	for i := len(h.log) - 1; i >= 0; i-- {
		d := h.log[i]
		if from >= 0 && d.ID > from {
			continue
		}
		if !matchesStatusFilter(d, status) {
			continue
		}
		matching = append(matching, d)
		if len(matching) > perPage {
			break
		}
	}
	items := make([]deliveryItemJSON, 0, min(perPage, len(matching)))
	for i := 0; i < len(matching) && i < perPage; i++ {
		items = append(items, deliveryItem(matching[i]))
	}
	s.mu.Unlock()

	resp = jsonResponse(http.StatusOK, items)
	if len(matching) > perPage {
		next := "v1_" + strconv.FormatInt(matching[perPage].ID, 10)
		resp.header.Set("Link", linkRel(cursorURL(s.baseURL, c.r, next), "next"))
	}
	return resp
}

// matchesStatusFilter applies the status query parameter as GitHub's
// description words it: success is a status_code of 200-399, failure one of
// 400-599 (both inclusive). An attempt GitHub got no answer for (status_code
// 0: could not connect, timed out) matches neither, so a client that lists
// only failures never sees it.
func matchesStatusFilter(d *Delivery, status string) bool {
	switch status {
	case "success":
		return d.StatusCode >= 200 && d.StatusCode <= 399
	case "failure":
		return d.StatusCode >= 400 && d.StatusCode <= 599
	}
	return true
}

func (s *Server) findDelivery(c *call, level string) (*hookState, *Delivery, *response) {
	h, resp := s.resolveHook(c, level)
	if resp != nil {
		return nil, nil, resp
	}
	id, err := strconv.ParseInt(c.param("delivery_id"), 10, 64)
	if err != nil {
		return nil, nil, notFound(c.docURL())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := h.delivery(id)
	if d == nil {
		return nil, nil, notFound(c.docURL())
	}
	return h, d, nil
}

func (s *Server) getHookDelivery(c *call) *response {
	_, d, resp := s.findDelivery(c, PermRead)
	return s.answerRead(resp, func() any { return deliveryDetail(d) })
}

// redeliverHookDelivery answers 202 and redelivers after answering, as
// GitHub does.
func (s *Server) redeliverHookDelivery(c *call) *response {
	h, d, resp := s.findDelivery(c, PermWrite)
	if resp != nil {
		return resp
	}
	s.mu.Lock()
	ev := eventOf(d)
	tooOld := s.now().Sub(d.DeliveredAt) > s.opts.redeliveryWindow
	s.mu.Unlock()
	if tooOld {
		return validationFailed(c.docURL(), fieldError{Resource: "HookDelivery", Code: "custom",
			Message: "Delivery is too old to be redelivered"})
	}
	s.inflight.Add(1)
	c.after = append(c.after, func() {
		go func() {
			defer s.inflight.Done()
			s.deliver(h, ev, true)
		}()
	})
	return jsonResponse(http.StatusAccepted, struct{}{})
}
