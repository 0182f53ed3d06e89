package scale

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
)

// The limits the convergence run is held to: GitHub's published limits
// (the simulator's defaults) and hookwarden's pacing.
const (
	latency           = 50 * time.Millisecond
	primaryPerHour    = githubsim.DefaultPrimaryLimit
	mutationsPerMin   = githubsim.DefaultMutationsPerMinute
	pointsPerMin      = githubsim.DefaultPointsPerMinute
	mutationPacing    = time.Second
	readPoints        = 1
	mutationPoints    = 5
	fixedAllowance    = 10 * time.Second
	allowedOverMinPct = 10
)

// minimumTime is the least time in which one token can register hooks
// hooks, each needing one read (the list of the repository's hooks) and one
// creation, under the limits; it returns that time and the binding limit.
func minimumTime(hooks int) (time.Duration, string) {
	reads, mutations := hooks, hooks
	bounds := map[string]time.Duration{
		// The first creation follows a read; creations are paced.
		"hookwarden's 1 s between mutations": latency + time.Duration(mutations-1)*mutationPacing + latency,
		// All but one minute's worth wait for the window to roll.
		"80 content-creating requests a minute": time.Duration(math.Max(0, math.Ceil(float64(mutations)/mutationsPerMin)-1)) * time.Minute,
		"900 points a minute":                   time.Duration(math.Max(0, math.Ceil(float64(reads*readPoints+mutations*mutationPoints)/pointsPerMin)-1)) * time.Minute,
		"5,000 requests an hour":                time.Duration(math.Max(0, math.Ceil(float64(reads+mutations)/primaryPerHour)-1)) * time.Hour,
	}
	var best time.Duration
	var binding string
	for name, d := range bounds {
		if d > best || binding == "" {
			best, binding = d, name
		}
	}
	return best, binding
}

// TestConvergenceAndSteadyState creates 1,000 integrations over 50 tokens,
// starts hookwarden, and measures the time until all are Ready against the
// minimum the limits allow; then it watches the steady state for three
// intervals.
func TestConvergenceAndSteadyState(t *testing.T) {
	needScale(t)
	sim := githubsim.New()
	defer sim.Close()
	sim.SetFault(githubsim.FaultAll, githubsim.Fault{Latency: latency})
	perToken := map[int][]string{}
	for i := range *integrations {
		if err := sim.AddRepo(repoName(i)); err != nil {
			t.Fatal(err)
		}
		perToken[i%*tokens] = append(perToken[i%*tokens], repoName(i))
	}
	for tok, repos := range perToken {
		sim.AddToken(tokenName(tok), []string{"admin:repo_hook"}, repos...)
	}
	scene, ctx := newScene(t, sim)
	created := time.Now()
	createAll(ctx, t, scene.Client, scene.Namespace, 0, *integrations, func(_ int, gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval.Duration = *interval
	})
	fmt.Printf("created %d integrations and Secrets in %s\n", *integrations, time.Since(created).Round(time.Second))

	metricsAddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--metrics-bind-address=" + metricsAddr}
	if *reconcilers > 0 {
		args = append(args, fmt.Sprintf("--max-concurrent-reconciles=%d", *reconcilers))
	}
	writesBefore, err := readAPIWrites(ctx, scene.Env.Config)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	op, err := scene.Operator(ctx, "hookwarden", gogcOptions(harness.OperatorOptions{Args: args}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Stop(time.Minute) }()
	profiled := make(chan error, 1)
	if *apiProfile != "" {
		go func() { profiled <- saveAPIServerProfile(ctx, scene.Env.Config, 30, *apiProfile) }()
	}
	readyAt, err := scene.WaitReady(ctx, *integrations, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := readyAt.Sub(start)
	writesAfter, err := readAPIWrites(ctx, scene.Env.Config)
	if err != nil {
		t.Fatal(err)
	}
	work := readWorkers(ctx, t, metricsAddr)

	worst, binding := time.Duration(0), ""
	for _, repos := range perToken {
		if d, b := minimumTime(len(repos)); d > worst {
			worst, binding = d, b
		}
	}
	st := sim.Stats()
	secondary := 0
	for _, r := range sim.Requests() {
		if r.RateLimited {
			secondary++
		}
	}
	goal := worst + worst*allowedOverMinPct/100 + fixedAllowance
	fmt.Printf("\nconvergence: %d integrations over %d tokens (%d per token), 50 ms latency, GitHub's limits, --max-concurrent-reconciles=%s\n",
		*integrations, *tokens, *integrations / *tokens, orDefault(*reconcilers))
	fmt.Printf("  time to all Ready (from the operator's start)   %s\n", took.Round(100*time.Millisecond))
	fmt.Printf("  minimum the limits allow (binding: %s)   %s\n", binding, worst.Round(100*time.Millisecond))
	fmt.Printf("  target: minimum + 10 %% + 10 s                   %s  %s\n", goal.Round(100*time.Millisecond), metOrNot(took <= goal))
	fmt.Printf("  rate-limited answers (secondary or primary)     %d  %s\n", secondary, metOrNot(secondary == 0))
	reqs := sim.Requests()
	fmt.Printf("  GitHub requests: %d (%d mutations); by route (requests / answered 304 / spent rate limit):\n%s",
		st.Total, st.Mutating, routeAnswers(reqs))
	fmt.Printf("  %s\n", creationSpread(reqs, start))
	fmt.Printf("  %s\n", work.summary(took))
	writes, total := writesAfter.since(writesBefore, writeVerbs)
	fmt.Printf("  API server writes from the operator's start until all were Ready: %.0f (%.2f per integration, %.0f/s); by verb and resource:\n%s",
		total, total/float64(*integrations), total/took.Seconds(), writes.perIntegration(*integrations))
	reads, total := writesAfter.since(writesBefore, readVerbs)
	fmt.Printf("  API server reads (GET, LIST) in the same time: %.0f (%.2f per integration); by verb and resource:\n%s",
		total, total/float64(*integrations), reads.perIntegration(*integrations))

	if *apiProfile != "" {
		if err := <-profiled; err != nil {
			t.Error(err)
		} else {
			fmt.Printf("  the API server's CPU profile of the first 30 s: %s\n", *apiProfile)
		}
	}

	steadyState(t, sim, *tokens)
}

// steadyState watches the requests of three intervals once everything is
// Ready.
func steadyState(t *testing.T, sim *githubsim.Server, tokens int) {
	t.Helper()
	// Let the first pass after every creation go by: it reads the hook in
	// full, since the ping GitHub sent on creation changed the hook's
	// last_response after the reconcile that created it last read it, as
	// GitHub would answer too. hookwarden jitters each pass by up to 10 %
	// of the interval, hence the margin.
	time.Sleep(*interval*11/10 + 5*time.Second)
	sim.ResetStats()
	windowStart := time.Now()
	window := time.Duration(*intervals) * *interval
	time.Sleep(window)
	st := sim.Stats()
	perToken := make([]int, 0, len(st.ByToken))
	for _, n := range st.ByToken {
		perToken = append(perToken, n)
	}
	slices.Sort(perToken)
	median := 0
	if len(perToken) > 0 {
		median = perToken[len(perToken)/2]
	}
	perHour := func(n int) float64 { return float64(n) / window.Hours() }
	share := 0.0
	if st.Total > 0 {
		share = float64(st.NotModified) / float64(st.Total)
	}
	scale := float64(10*time.Minute) / float64(*interval)
	fmt.Printf("\nsteady state: %d intervals of %s (scaled down %.0f× from the default 10m)\n", *intervals, *interval, scale)
	fmt.Printf("  requests: %d; answered 304: %d (%.2f %%, target ≥ 99 %%) %s\n", st.Total, st.NotModified, 100*share, metOrNot(share >= 0.99))
	fmt.Printf("  rate limit spent: %d requests (target 0) %s; mutations: %d (target 0) %s\n", st.Spent, metOrNot(st.Spent == 0), st.Mutating, metOrNot(st.Mutating == 0))
	fmt.Printf("  requests an hour per token at %s: median %.0f, max %.0f (limit %d); at 10m: median %.0f\n",
		*interval, perHour(median), perHour(lastOr(perToken)), primaryPerHour, perHour(median)/scale)
	if len(st.ByToken) > tokens {
		t.Errorf("requests from %d tokens, %d exist", len(st.ByToken), tokens)
	}
	reqs := sim.Requests()
	fmt.Printf("  by route (requests / answered 304 / spent rate limit):\n%s", routeAnswers(reqs))
	explainSpent(sim, reqs, windowStart)
}

// creationSpread summarises when each token's hooks were created, from the
// operator's start: the first and the last creation of all tokens, and per
// token the time from its first creation to its last (19 s at best for 20
// hooks at one a second).
func creationSpread(reqs []githubsim.RequestRecord, start time.Time) string {
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range reqs {
		if r.Route != "POST /repos/{owner}/{repo}/hooks" || r.Status != http.StatusCreated {
			continue
		}
		if f, ok := first[r.Token]; !ok || r.At.Before(f) {
			first[r.Token] = r.At
		}
		if l, ok := last[r.Token]; !ok || r.At.After(l) {
			last[r.Token] = r.At
		}
	}
	if len(first) == 0 {
		return "no hook created"
	}
	var spreads []time.Duration
	earliest, latest := time.Time{}, time.Time{}
	for tok, f := range first {
		spreads = append(spreads, last[tok].Sub(f))
		if earliest.IsZero() || f.Before(earliest) {
			earliest = f
		}
		if last[tok].After(latest) {
			latest = last[tok]
		}
	}
	slices.Sort(spreads)
	return fmt.Sprintf("hook creations from %+.1fs to %+.1fs after the operator's start; per token, first to last: median %.1fs, max %.1fs",
		earliest.Sub(start).Seconds(), latest.Sub(start).Seconds(),
		spreads[len(spreads)/2].Seconds(), spreads[len(spreads)-1].Seconds())
}

// routeAnswers lists, per route, the requests, those answered 304 and
// those that spent rate limit.
func routeAnswers(reqs []githubsim.RequestRecord) string {
	type counts struct{ total, notModified, spent int }
	per := map[string]*counts{}
	for _, r := range reqs {
		c := per[r.Route]
		if c == nil {
			c = &counts{}
			per[r.Route] = c
		}
		c.total++
		if r.Status == http.StatusNotModified {
			c.notModified++
		}
		if r.Spent {
			c.spent++
		}
	}
	routes := slices.Sorted(maps.Keys(per))
	var b strings.Builder
	for _, route := range routes {
		c := per[route]
		fmt.Fprintf(&b, "    %-70s %6d / %6d / %4d\n", route, c.total, c.notModified, c.spent)
	}
	return b.String()
}

// explainSpent prints the requests that spent rate limit, each with the
// newest delivery its hook had got by then: a hook read answered 200
// because a delivery changed its last_response (or its delivery log) is
// what GitHub would answer too.
func explainSpent(sim *githubsim.Server, reqs []githubsim.RequestRecord, start time.Time) {
	const most = 40
	shown := 0
	for _, r := range reqs {
		if !r.Spent {
			continue
		}
		if shown++; shown > most {
			fmt.Printf("    ... and more\n")
			return
		}
		note := ""
		if target, id, ok := hookOf(r.Path); ok {
			if ds, err := sim.Deliveries(target, id); err == nil {
				var newest *githubsim.Delivery
				for i := range ds {
					if ds[i].DeliveredAt.Before(r.At) && (newest == nil || ds[i].DeliveredAt.After(newest.DeliveredAt)) {
						newest = &ds[i]
					}
				}
				if newest != nil {
					note = fmt.Sprintf("; newest delivery before it: %s at %+.1fs (%d of the hook's deliveries)",
						newest.Event, newest.DeliveredAt.Sub(start).Seconds(), len(ds))
				}
			}
		}
		fmt.Printf("    spent: %s %s answered %d at %+.1fs%s\n", r.Method, r.Path, r.Status, r.At.Sub(start).Seconds(), note)
	}
}

// hookOf parses /repos/{owner}/{repo}/hooks/{id}[/...].
func hookOf(path string) (string, int64, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) < 5 || parts[0] != "repos" || parts[3] != "hooks" {
		return "", 0, false
	}
	id, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return parts[1] + "/" + parts[2], id, true
}

func lastOr(s []int) int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func orDefault(n int) string {
	if n == 0 {
		return "the operator's default"
	}
	return fmt.Sprint(n)
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// gogcOptions runs the operator with -scale.gogc's GOGC, when it is set:
// the price of a lower one in convergence time.
func gogcOptions(o harness.OperatorOptions) harness.OperatorOptions {
	if *gogc != "" {
		o.Env = append(o.Env, "GOGC="+*gogc)
		fmt.Printf("\nthe operator runs with GOGC=%s\n", *gogc)
	}
	return o
}

// workers is what the operator's metrics say of the GitHubIntegration
// controller's workers.
type workers struct {
	max        float64 // controller_runtime_max_concurrent_reconciles
	reconciles float64 // controller_runtime_reconcile_time_seconds_count
	busy       float64 // controller_runtime_reconcile_time_seconds_sum
	queued     float64 // workqueue_queue_duration_seconds_count
	waitedOver float64 // of those, the ones that waited more than 1 s
}

var workerFigures = regexp.MustCompile(`^(controller_runtime_max_concurrent_reconciles|controller_runtime_reconcile_time_seconds_count|controller_runtime_reconcile_time_seconds_sum|workqueue_queue_duration_seconds_count|workqueue_queue_duration_seconds_bucket)\{[^}]*controller="githubintegration"[^}]*?(?:,le="([^"]+)")?\} ([0-9.e+]+)$`)

// readWorkers reads the controller's workers' figures from the operator's
// metrics endpoint, once.
func readWorkers(ctx context.Context, t *testing.T, addr string) workers {
	t.Helper()
	resp := getFromOperator(ctx, t, "http://"+addr+"/metrics")
	defer resp.Body.Close()
	var w workers
	var queuedWithin1s float64
	err := metricLines(resp.Body, workerFigures, func(m []string) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		switch m[1] {
		case "controller_runtime_max_concurrent_reconciles":
			w.max = v
		case "controller_runtime_reconcile_time_seconds_count":
			w.reconciles = v
		case "controller_runtime_reconcile_time_seconds_sum":
			w.busy = v
		case "workqueue_queue_duration_seconds_count":
			w.queued = v
		case "workqueue_queue_duration_seconds_bucket":
			if m[2] == "1" {
				queuedWithin1s = v
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.max == 0 || w.reconciles == 0 || w.queued == 0 {
		t.Fatalf("the operator's metrics lack the githubintegration controller's workers, reconciles or queue (read %+v): the names matched by workerFigures changed", w)
	}
	w.waitedOver = w.queued - queuedWithin1s
	return w
}

// summary says how busy the workers were over took, and how many
// reconciles waited for one.
func (w workers) summary(took time.Duration) string {
	return fmt.Sprintf("reconciles until then: %.0f, %.0f s in workers (on average %.1f of %.0f workers busy); %.0f waited more than 1 s for a worker",
		w.reconciles, w.busy, w.busy/took.Seconds(), w.max, w.waitedOver)
}
