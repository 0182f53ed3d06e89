package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// example actions the sandbox delivers, from GitHub's published examples.
var exampleActions = map[string]string{
	"push":         "",
	"pull_request": "opened",
	"issues":       "labeled",
}

var serial atomic.Int64

// Payload returns GitHub's published example of event, moved to the
// sandbox's repository. The pull request's body carries the experiment_key
// line and the issue carries the sandbox's label, so both are tracked.
func Payload(event string) ([]byte, error) {
	action, ok := exampleActions[event]
	if !ok {
		return nil, fmt.Errorf("the sandbox delivers push, pull_request and issues, not %q", event)
	}
	ex, err := testfixtures.ExampleFor(event, action)
	if err != nil {
		return nil, err
	}
	var p map[string]any
	if err := json.Unmarshal(ex.Raw, &p); err != nil {
		return nil, fmt.Errorf("example %s: %w", ex.Name, err)
	}
	if repo, ok := p["repository"].(map[string]any); ok {
		repo["full_name"] = Repository
		repo["name"] = "demo"
		if owner, ok := repo["owner"].(map[string]any); ok {
			owner["login"] = "acme"
		}
	}
	n := serial.Add(1)
	switch event {
	case "pull_request":
		pr := p["pull_request"].(map[string]any)
		pr["number"] = 100 + n
		pr["title"] = "Checkout flow v2"
		pr["body"] = "Ships the new checkout flow.\n\nexperiment_key: " + LinkKey + "\n"
		p["number"] = 100 + n
	case "issues":
		issue := p["issue"].(map[string]any)
		issue["number"] = 200 + n
		issue["title"] = "Review results: " + LinkKey
		label := map[string]any{"id": 1, "name": IssueLabel, "color": "f29513", "default": false}
		issue["labels"] = []any{label}
		p["label"] = label
	}
	return json.Marshal(p)
}

// trigger makes the simulator deliver one event to the hooks of the
// sandbox's repository.
func (s *sandbox) trigger(event string) ([]githubsim.Delivery, error) {
	payload, err := Payload(event)
	if err != nil {
		return nil, err
	}
	deliveries, err := s.sim.TriggerEvent(Repository, event, payload)
	if err != nil {
		return nil, fmt.Errorf("deliver %s: %w", event, err)
	}
	return deliveries, nil
}

// serve keeps the sandbox running: it shows the status as it changes and
// accepts POST /trigger/{event} on a loopback control port.
func (s *sandbox) serve(ctx context.Context) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.control = "http://" + l.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /trigger/{event}", func(w http.ResponseWriter, r *http.Request) {
		deliveries, err := s.trigger(r.PathValue("event"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, d := range deliveries {
			fmt.Fprintf(w, "delivered %s %s to hook %d: %d %s\n", d.Event, d.GUID, d.HookID, d.StatusCode, d.Status)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	fmt.Fprintf(s.Out, `
The sandbox is running. In another terminal:
  export KUBECONFIG=%s
  kubectl get ghi -A
  kubectl describe ghi %s -n %s
Trigger more deliveries (push, pull_request or issues):
  curl -X POST %s/trigger/push
Stop with Ctrl-C.

`, s.kubeconfig, Integration, Namespace, s.control)

	last := ""
	for {
		if gi, err := s.get(ctx); err == nil {
			if v := View(gi); v != last {
				fmt.Fprintf(s.Out, "\n[%s]%s", time.Now().Format(time.TimeOnly), v)
				last = v
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
