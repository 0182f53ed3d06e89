package delivery

import (
	"fmt"
	"reflect"

	"github.com/hookwarden/hookwarden/internal/issuebody"
)

// The event table: one entry per handled event. Each entry names the
// payload members it reads (the json tags of its fields type, which embeds
// Envelope) and says what a delivery of the event means for status (its
// record function). Adding a handled event is one entry here, its fields
// type, and its test; the receiver needs no change.
var handled = map[string]*entry{
	// ping: GitHub's check that a new hook reaches the receiver. It is
	// processed whether or not spec.events lists it, and its answer names
	// the hook.
	"ping": handle(func(*Delivery, *pingFields, Settings) Outcome {
		return Outcome{Processed: true, AnswerHookID: true}
	}, always),
	// push: the ref and the commit it now points at, shown in
	// status.lastDelivery.
	"push": handle(func(_ *Delivery, p *pushFields, _ Settings) Outcome {
		return Outcome{Processed: true, Ref: p.Ref, After: p.After}
	}),
	// pull_request: upserts the pull request in status.pullRequests, with
	// the link key its body names.
	"pull_request": handle(recordPullRequest),
	// issues: upserts in status.issues an issue carrying links.issueLabel
	// or the marker of a GitHubIssue, or removes one that lost them or left
	// the repository.
	"issues": handle(recordIssue),
}

type pingFields struct {
	Envelope
}

type pushFields struct {
	Envelope
	Ref   string `json:"ref"`
	After string `json:"after"`
}

type pullRequestFields struct {
	Envelope
	PullRequest *struct {
		Number  int64   `json:"number"`
		Title   string  `json:"title"`
		HTMLURL string  `json:"html_url"`
		State   string  `json:"state"`
		Merged  *bool   `json:"merged"`
		Body    *string `json:"body"`
		// MergedAt is set once merged, also in payloads without "merged".
		MergedAt *string `json:"merged_at"`
	} `json:"pull_request"`
}

type issueFields struct {
	Envelope
	Issue *struct {
		Number  int64   `json:"number"`
		Title   string  `json:"title"`
		HTMLURL string  `json:"html_url"`
		State   string  `json:"state"`
		Body    *string `json:"body"`
		Labels  []struct {
			Name string `json:"name"`
		} `json:"labels"`
	} `json:"issue"`
}

func recordPullRequest(d *Delivery, p *pullRequestFields, s Settings) Outcome {
	out := Outcome{Processed: true}
	pr := p.PullRequest
	if pr == nil || d.Target == "" {
		return out
	}
	repo := d.Target
	if p.Repository != nil && p.Repository.FullName != "" {
		repo = p.Repository.FullName
	}
	state := StateOpen
	switch {
	case (pr.Merged != nil && *pr.Merged) || (pr.MergedAt != nil && *pr.MergedAt != ""):
		state = StateMerged
	case pr.State == StateClosed:
		state = StateClosed
	}
	body := ""
	if pr.Body != nil {
		body = *pr.Body
	}
	out.PullRequest = &Item{Repository: repo, Number: pr.Number, Title: pr.Title, URL: pr.HTMLURL, State: state,
		LinkKey: LinkKey(body, s.PullRequestKey)}
	return out
}

// untrackingActions remove an issue from status: it is gone from the
// repository.
var untrackingActions = map[string]bool{"deleted": true, "transferred": true}

// recordIssue tracks an issue that carries links.issueLabel, or the marker
// of a GitHubIssue in its (signed) body: the GitHubIssue controller shows
// the state and title of its issue from status.issues.
func recordIssue(_ *Delivery, p *issueFields, s Settings) Outcome {
	out := Outcome{Processed: true}
	is := p.Issue
	if is == nil || p.Repository == nil || p.Repository.FullName == "" {
		return out
	}
	managed := is.Body != nil && issuebody.UID(*is.Body) != ""
	if s.IssueLabel == "" && !managed {
		return out
	}
	key := ItemKey{Repository: p.Repository.FullName, Number: is.Number}
	labelled := false
	for _, l := range is.Labels {
		labelled = labelled || (s.IssueLabel != "" && l.Name == s.IssueLabel)
	}
	if (!labelled && !managed) || untrackingActions[p.Action] {
		out.UntrackIssue = &key
		return out
	}
	state := StateOpen
	if is.State == StateClosed {
		state = StateClosed
	}
	out.Issue = &Item{Repository: key.Repository, Number: key.Number, Title: is.Title, URL: is.HTMLURL, State: state}
	return out
}

// Settings are what an integration's spec says about its deliveries.
type Settings struct {
	// Subscribed: spec.events lists the delivery's event (or "*").
	Subscribed bool
	// PullRequestKey is links.pullRequestKey.
	PullRequestKey string
	// IssueLabel is links.issueLabel; "" tracks no issue.
	IssueLabel string
}

// Outcome is what a valid delivery means: processed or ignored, and what it
// changes in status.
type Outcome struct {
	// Event is the name the delivery is counted under in metrics and
	// status: the event's, or "" when the name is not one of GitHub's or
	// not subscribed to (then it is counted without a name). The names are
	// thus bounded by GitHub's list, whatever the unsigned header says.
	Event string
	// Processed: a handled event the integration subscribes to (or a
	// ping); otherwise the delivery is ignored for Reason.
	Processed bool
	Reason    string
	// AnswerHookID: the answer names the hook (a ping).
	AnswerHookID bool
	// Ref and After are a push's.
	Ref, After string
	// PullRequest is upserted in status.pullRequests.
	PullRequest *Item
	// Issue is upserted in status.issues; UntrackIssue is removed from it.
	Issue        *Item
	UntrackIssue *ItemKey
}

// ItemKey identifies a pull request or an issue.
type ItemKey struct {
	Repository string
	Number     int64
}

// Item is a pull request or an issue as status shows it.
type Item struct {
	Repository string
	Number     int64
	Title      string
	URL        string
	State      string
	// LinkKey is the pull request's link key; "" for issues.
	LinkKey string
}

// Key identifies the item.
func (it *Item) Key() ItemKey { return ItemKey{Repository: it.Repository, Number: it.Number} }

// Handled reports whether the event has an entry in the table.
func Handled(event string) bool { return handled[event] != nil }

// Classify says what a valid delivery means for an integration: a ping is
// always processed; an event that is not one of GitHub's, one the
// integration does not subscribe to, or one without an entry in the table,
// is ignored; the rest is what its entry records. X-GitHub-Event is not
// signed, so Outcome.Event, the name the delivery is counted under, is the
// header's only for GitHub's events the integration subscribes to.
func Classify(d *Delivery, s Settings) Outcome {
	out := classify(d, s)
	if e := handled[d.Event]; (e != nil && e.always) || (Known(d.Event) && s.Subscribed) {
		out.Event = d.Event
	}
	return out
}

func classify(d *Delivery, s Settings) Outcome {
	e := handled[d.Event]
	switch {
	case e != nil && e.always:
	case !Known(d.Event):
		return Outcome{Reason: fmt.Sprintf("event %q is not a GitHub webhook event this version of hookwarden knows: "+
			"counted without its name", d.Event)}
	case !s.Subscribed:
		return Outcome{Reason: fmt.Sprintf("event %q is not in spec.events", d.Event)}
	case e == nil:
		return Outcome{Reason: fmt.Sprintf("event %q has no handler", d.Event)}
	}
	return e.record(d, s)
}

// entry is one row of the event table.
type entry struct {
	// always: processed whether or not spec.events lists the event.
	always bool
	// decode reads the members the entry names from a payload.
	decode func(raw []byte) (fields any, env Envelope, err error)
	// record interprets the decoded fields.
	record func(d *Delivery, s Settings) Outcome
}

// always marks an entry processed whatever spec.events says.
func always(e *entry) { e.always = true }

// handle builds an entry from its fields type T (read from the payload by
// its json tags) and its record function.
func handle[T any, PT interface {
	*T
	envelope() *Envelope
}](record func(d *Delivery, p PT, s Settings) Outcome, opts ...func(*entry)) *entry {
	s := schemaOf(reflect.TypeFor[T]())
	e := &entry{
		decode: func(raw []byte) (any, Envelope, error) {
			p := PT(new(T))
			if err := decodeInto(raw, s, p); err != nil {
				return nil, Envelope{}, err
			}
			return p, *p.envelope(), nil
		},
		record: func(d *Delivery, st Settings) Outcome {
			p, _ := d.fields.(PT)
			if p == nil {
				p = PT(new(T))
			}
			return record(d, p, st)
		},
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// envelopeSchema reads the payload of an event without an entry.
var envelopeSchema = schemaOf(reflect.TypeFor[Envelope]())

// decodeFor decodes raw into d with the members its event's entry reads.
func decodeFor(d *Delivery, raw []byte) error {
	if e := handled[d.Event]; e != nil {
		fields, env, err := e.decode(raw)
		if err != nil {
			return err
		}
		d.fields, d.Envelope = fields, env
		return nil
	}
	return decodeInto(raw, envelopeSchema, &d.Envelope)
}
