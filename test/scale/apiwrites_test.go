package scale

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// apiWrites counts the requests the API server served, by verb and
// resource (with its subresource), from its own apiserver_request_total:
// what everything that wrote or read during a phase (the operator's
// reconciler and receiver, the garbage collector, Events) cost the API
// server.
type apiWrites map[string]float64

// writeVerbs are the verbs of apiserver_request_total that change objects;
// readVerbs those that read them once (not WATCH, counted when it starts).
var (
	writeVerbs = []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
	readVerbs  = []string{"GET", "LIST"}
)

var requestTotal = regexp.MustCompile(`^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$`)

// readAPIWrites scrapes the API server's /metrics as its administrator.
func readAPIWrites(ctx context.Context, cfg *rest.Config) (apiWrites, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the API server's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scrape the API server's metrics: %s: %s", resp.Status, body)
	}
	out := apiWrites{}
	err = metricLines(resp.Body, requestTotal, func(m []string) {
		labels := map[string]string{}
		for _, kv := range strings.Split(m[1], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		if !slices.Contains(writeVerbs, labels["verb"]) && !slices.Contains(readVerbs, labels["verb"]) || labels["dry_run"] != "" {
			return
		}
		n, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return
		}
		resource := labels["resource"]
		if labels["subresource"] != "" {
			resource += "/" + labels["subresource"]
		}
		out[labels["verb"]+" "+resource] += n
	})
	return out, err
}

// metricLines calls fn with the submatches of re for every line of a
// Prometheus text exposition that matches it.
func metricLines(r io.Reader, re *regexp.Regexp, fn func(m []string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			fn(m)
		}
	}
	return sc.Err()
}

// since is the requests of verbs between before and w, and their total.
func (w apiWrites) since(before apiWrites, verbs []string) (apiWrites, float64) {
	out, total := apiWrites{}, 0.0
	for k, n := range w {
		verb, _, _ := strings.Cut(k, " ")
		if !slices.Contains(verbs, verb) {
			continue
		}
		if d := n - before[k]; d > 0 {
			out[k] = d
			total += d
		}
	}
	return out, total
}

// perIntegration lists the writes by verb and resource, most first, each
// also per integration.
func (w apiWrites) perIntegration(n int) string {
	keys := slices.Collect(maps.Keys(w))
	slices.SortFunc(keys, func(a, b string) int {
		if w[a] != w[b] {
			if w[a] > w[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "    %-52s %7.0f  %5.2f per integration\n", k, w[k], w[k]/float64(n))
	}
	return b.String()
}

// saveAPIServerProfile saves the API server's CPU profile of the next
// seconds to file (kube-apiserver serves /debug/pprof to its
// administrator): where the API server's time goes while hookwarden
// converges.
func saveAPIServerProfile(ctx context.Context, cfg *rest.Config, seconds int, file string) error {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("profile the API server: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profile the API server: %s: %s", resp.Status, body)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("profile the API server: %w", err)
	}
	return os.WriteFile(file, data, 0o644)
}
