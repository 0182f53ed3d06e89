// Package send implements `hookwarden send`: it signs a payload file the way
// GitHub signs webhook deliveries and POSTs it to a receiver, to check an
// ingress path, a webhook secret and the receiver end to end.
package send

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hookwarden/hookwarden/internal/cliflag"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

// SecretEnv is read for the webhook secret when neither --secret nor
// --secret-file is given, so that the secret stays out of shell history.
const SecretEnv = "HOOKWARDEN_SEND_SECRET"

// UserAgent is sent like GitHub's "GitHub-Hookshot/<version>", so proxies
// and receivers that look at it treat the request as GitHub's.
const UserAgent = "GitHub-Hookshot/hookwarden-send"

// Content types of a delivery, as in a hook's config.content_type.
const (
	ContentTypeJSON = "json"
	ContentTypeForm = "form"
)

// maxShownBody caps how much of the receiver's answer is read and printed.
const maxShownBody = 64 << 10

// Delivery is one signed webhook delivery.
type Delivery struct {
	// URL is the receiver's payload URL.
	URL string
	// Secret is the webhook secret the body is signed with.
	Secret string
	// Event is the X-GitHub-Event header, e.g. "push".
	Event string
	// Payload is the event's JSON, sent byte for byte.
	Payload []byte
	// ContentType is ContentTypeJSON (the default) or ContentTypeForm, which
	// sends the payload URL-encoded in the "payload" field.
	ContentType string
	// ID is the X-GitHub-Delivery GUID; a random one when empty.
	ID string
	// HookID is the X-GitHub-Hook-ID header; not sent when zero.
	HookID int64
}

// Sign returns the X-Hub-Signature-256 value of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret, computed by the code the receiver
// verifies with.
func Sign(secret string, body []byte) string {
	return delivery.Signature([]byte(secret), body)
}

// NewRequest builds the POST GitHub would send for d. It sets d.ID when
// empty. The signature covers the exact body sent.
func (d *Delivery) NewRequest(ctx context.Context) (*http.Request, error) {
	var body []byte
	var contentType string
	switch d.ContentType {
	case "", ContentTypeJSON:
		body, contentType = d.Payload, "application/json"
	case ContentTypeForm:
		body, contentType = []byte(url.Values{"payload": {string(d.Payload)}}.Encode()), "application/x-www-form-urlencoded"
	default:
		return nil, fmt.Errorf("content type %q: use %s or %s", d.ContentType, ContentTypeJSON, ContentTypeForm)
	}
	if d.ID == "" {
		d.ID = uuid.NewString()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(delivery.HeaderEvent, d.Event)
	req.Header.Set(delivery.HeaderDelivery, d.ID)
	req.Header.Set(delivery.HeaderSignature256, Sign(d.Secret, body))
	if d.HookID != 0 {
		req.Header.Set(delivery.HeaderHookID, strconv.FormatInt(d.HookID, 10))
	}
	return req, nil
}

// Response is the receiver's answer to a delivery.
type Response struct {
	StatusCode int
	Status     string
	// Body is the start of the answer, at most 64 KiB.
	Body []byte
}

// OK reports a 2xx answer, which GitHub counts as a successful delivery.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Send delivers d with c and returns the receiver's answer.
func Send(ctx context.Context, c *http.Client, d *Delivery) (*Response, error) {
	req, err := d.NewRequest(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxShownBody))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	return &Response{StatusCode: resp.StatusCode, Status: resp.Status, Body: body}, nil
}

const usage = `Usage: hookwarden send --url URL --event EVENT [flags] PAYLOAD.json

Signs PAYLOAD.json with the webhook secret as GitHub does (X-Hub-Signature-256)
and POSTs it to URL with GitHub's delivery headers, then prints the answer.
Exits 0 on a 2xx answer, 1 otherwise, 2 on a usage error.

The secret comes from --secret-file, the ` + SecretEnv + ` environment variable
or --secret (which shell history keeps), and is never printed.

Example:
  kubectl -n team-a get secret github-experiments \
    -o jsonpath='{.data.webhook_secret}' | base64 -d >webhook_secret
  hookwarden send --secret-file webhook_secret --event push \
    --url https://hooks.example.com/api/v1/integrations/team-a/experiments/webhook/github push.json

Flags:
`

// Run runs `hookwarden send` with the arguments that follow "send" and
// returns the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr, os.LookupEnv)
}

// options are what the flags of `hookwarden send` set.
type options struct {
	delivery   Delivery
	secretFile string
	timeout    time.Duration
}

// newFlagSet defines the flags of `hookwarden send`, writing into o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("hookwarden send", flag.ContinueOnError)
	d := &o.delivery
	fs.StringVar(&d.URL, "url", "", "Payload URL of the receiver (required).")
	fs.StringVar(&d.Event, "event", "", `Event name sent as X-GitHub-Event, e.g. push, pull_request, ping (required).`)
	fs.StringVar(&d.Secret, "secret", "", "Webhook secret. Prefer --secret-file or "+SecretEnv+".")
	fs.StringVar(&o.secretFile, "secret-file", "", "File holding the webhook secret (a final newline is ignored).")
	fs.StringVar(&d.ContentType, "content-type", ContentTypeJSON, `"json" sends the file as the body; "form" sends it in the "payload" form field.`)
	fs.Int64Var(&d.HookID, "hook-id", 0, "X-GitHub-Hook-ID to send; not sent when 0.")
	fs.StringVar(&d.ID, "delivery", "", "X-GitHub-Delivery GUID; random when empty (repeat one to check duplicate handling).")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "How long to wait for the answer.")
	return fs
}

// Flags returns the flags of `hookwarden send` with their defaults, for
// help and shell completion.
func Flags() *flag.FlagSet { return newFlagSet(new(options)) }

func run(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var o options
	fs := newFlagSet(&o)
	cliflag.Explain(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		help := Flags()
		help.SetOutput(stderr)
		help.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	d, secretFile, timeout := &o.delivery, o.secretFile, o.timeout
	secretFlag := d.Secret != ""
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hookwarden send: "+format+"\n", a...)
		return 2
	}
	switch {
	case d.URL == "":
		return fail("--url is required: the receiver's payload URL")
	case d.Event == "":
		return fail("--event is required, e.g. --event push")
	case fs.NArg() != 1:
		return fail("give exactly one payload file, got %d arguments", fs.NArg())
	case secretFlag && secretFile != "":
		return fail("give either --secret or --secret-file, not both")
	case d.ContentType != ContentTypeJSON && d.ContentType != ContentTypeForm:
		return fail("--content-type=%q: use %s or %s", d.ContentType, ContentTypeJSON, ContentTypeForm)
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("--url must be an absolute http(s) URL")
	}
	switch {
	case secretFile != "":
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return fail("read --secret-file: %v", err)
		}
		d.Secret = strings.TrimRight(string(b), "\r\n")
	case !secretFlag:
		d.Secret, _ = lookupEnv(SecretEnv)
	}
	if d.Secret == "" {
		return fail("no webhook secret: set --secret-file, %s or --secret", SecretEnv)
	}
	d.Payload, err = os.ReadFile(fs.Arg(0))
	if err != nil {
		return fail("read the payload: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := Send(ctx, &http.Client{}, d)
	target := u.Redacted()
	if err != nil {
		fmt.Fprintf(stderr, "hookwarden send: POST %s: %v\n", target, redact(err, d.Secret))
		return 1
	}
	fmt.Fprintf(stdout, "POST %s\nX-GitHub-Event: %s\nX-GitHub-Delivery: %s\n\n%s\n", target, d.Event, d.ID, resp.Status)
	if len(resp.Body) > 0 {
		fmt.Fprintf(stdout, "%s\n", strings.TrimRight(strings.ReplaceAll(string(resp.Body), d.Secret, "[secret]"), "\n"))
	}
	if !resp.OK() {
		fmt.Fprintf(stderr, "hookwarden send: the receiver answered %s\n", resp.Status)
		return 1
	}
	return 0
}

// redact keeps the secret out of an error message, whatever produced it.
func redact(err error, secret string) string {
	return strings.ReplaceAll(err.Error(), secret, "[secret]")
}
