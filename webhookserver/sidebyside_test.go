package webhookserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/harness"
	"github.com/hookwarden/hookwarden/internal/logging"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// The side-by-side benchmark of docs/performance.md (`make bench`): the receiver, a bare
// net/http handler that only reads the body, and the @octokit/webhooks Node
// middleware, each a server process of its own pinned to one core, driven in
// interleaved rounds by the same load generator over loopback keep-alive
// connections. Without -sidebyside, TestSideBySide is a smoke run of a few
// hundred requests that checks the harness, the answers and the receiver's
// one log line per delivery.
var (
	sideBySide  = flag.Bool("sidebyside", false, "run the full side-by-side benchmark of docs/performance.md (make bench)")
	sbRounds    = flag.Int("sidebyside.rounds", 5, "interleaved rounds per payload size")
	sbDuration  = flag.Duration("sidebyside.duration", 2*time.Second, "measured time per server per round")
	sbConns     = flag.Int("sidebyside.conns", 8, "keep-alive connections of the load generator")
	sbServerCPU = flag.String("sidebyside.server-cpu", "0", "CPU the servers are pinned to with taskset (empty: not pinned)")
	sbProfile   = flag.String("sidebyside.cpuprofile", "", "write the receiver's CPU profile to this file")
	sbSize      = flag.String("sidebyside.size", "", "run only this payload size (push-7KB or push-256KB)")
	sbBaseline  = flag.String("sidebyside.baseline", "", "a webhookserver test binary of another revision: its receiver runs beside this one (make bench BASELINE=<rev>)")
	sbGOGC      = flag.String("sidebyside.receiver-gogc", "", "run this revision's receiver with this GOGC instead of the Deployment's (with BASELINE=HEAD: the price of the setting beside the Deployment's)")
)

const (
	// benchServeEnv makes the test binary serve one benchmark target
	// (receiver or bare) instead of running tests.
	benchServeEnv   = "HOOKWARDEN_BENCH_SERVE"
	benchProfileEnv = "HOOKWARDEN_BENCH_CPUPROFILE"
)

//go:embed testdata/bench/octokit-server.mjs
var octokitServerScript string

// serveBenchTarget runs one server of the side-by-side benchmark until
// SIGTERM: "bare" or "receiver" (with status recording to a fake client and
// its log line per delivery written by the operator's logger to stderr). It
// prints "listening <addr>" first and, for the receiver, "status-writes <n>"
// last.
func serveBenchTarget(mode string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var serveLn func(net.Listener) error
	var shutdown func(context.Context) error
	stop, writes := func() {}, &atomic.Int64{}
	switch mode {
	case "bare":
		srv := benchHTTPServer(bareHandler())
		serveLn, shutdown = srv.Serve, srv.Shutdown
	case "go-verify":
		srv := benchHTTPServer(verifyHandler([]byte(testSecret)))
		serveLn, shutdown = srv.Serve, srv.Shutdown
	case "receiver":
		var s *Server
		var stopWorkers func()
		log, flushLog := logging.New(crzap.Options{DestWriter: os.Stderr})
		s, writes, stopWorkers, err = newBenchReceiver(log.WithName("receiver"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		stop = func() {
			stopWorkers()
			flushLog()
		}
		srv := s.httpServer()
		serveLn, shutdown = srv.Serve, srv.ShutdownWithContext
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown target %q\n", benchServeEnv, mode)
		return 2
	}
	if path := os.Getenv(benchProfileEnv); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { _ = serveLn(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = shutdown(ctx)
	stop()
	fmt.Printf("status-writes %d\n", writes.Load())
	return 0
}

// bareHandler is the baseline of docs/performance.md: it only reads the body.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
}

// verifyHandler is the second baseline of docs/performance.md, the minimal correct
// receiver: net/http, it reads the body, checks its HMAC-SHA256 signature
// and answers 200 (401 when the signature does not match).
func verifyHandler(secret []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil || len(body) > MaxBodyBytes {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got, err := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// benchHTTPServer serves h with net/http and the receiver's timeouts and
// header limit: the bare handler's server.
func benchHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
}

// benchServer is one server process of the side-by-side benchmark.
type benchServer struct {
	name   string
	addr   string
	path   string
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	// sent counts the requests sent to it, warm-up included.
	sent atomic.Int64
}

func startBenchServer(t *testing.T, name, path string, cmd *exec.Cmd) *benchServer {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	srv := &benchServer{name: name, path: path, cmd: cmd, stdout: bufio.NewScanner(out)}
	t.Cleanup(func() {
		if srv.cmd.ProcessState == nil {
			_ = srv.cmd.Process.Kill()
			_ = srv.cmd.Wait()
		}
	})
	if !srv.stdout.Scan() {
		t.Fatalf("%s did not start: %v", name, srv.stdout.Err())
	}
	addr, ok := strings.CutPrefix(srv.stdout.Text(), "listening ")
	if !ok {
		t.Fatalf("%s: unexpected first line %q", name, srv.stdout.Text())
	}
	srv.addr = addr
	return srv
}

// stop sends SIGTERM and returns the value of the last "<key> <n>" line.
func (srv *benchServer) stop(t *testing.T, key string) int64 {
	t.Helper()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var n int64 = -1
	for srv.stdout.Scan() {
		if v, ok := strings.CutPrefix(srv.stdout.Text(), key+" "); ok {
			n, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := srv.cmd.Wait(); err != nil {
		t.Errorf("%s: %v", srv.name, err)
	}
	return n
}

// pinned runs name pinned to the -sidebyside.server-cpu core when taskset is
// available.
func pinned(name string, args ...string) *exec.Cmd {
	if *sbServerCPU != "" {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			return exec.Command(taskset, append([]string{"-c", *sbServerCPU, name}, args...)...)
		}
	}
	return exec.Command(name, args...)
}

// deploymentRuntimeEnv is the Go runtime's settings of the Deployment's
// manager container (GOGC, GOMEMLIMIT), as NAME=value.
func deploymentRuntimeEnv(t *testing.T) []string {
	t.Helper()
	env, err := harness.DeploymentRuntimeEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func goBenchServer(t *testing.T, mode string, stderr io.Writer, profile string) *benchServer {
	return goBenchServerFrom(t, os.Args[0], mode, mode, stderr, profile)
}

// goBenchServerFrom runs target mode of the webhookserver test binary bin
// (this one, or another revision's) as the server name.
func goBenchServerFrom(t *testing.T, bin, name, mode string, stderr io.Writer, profile string) *benchServer {
	cmd := pinned(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServeEnv+"="+mode, "GOMAXPROCS=1")
	if mode == "receiver" {
		// Both revisions' receivers run as the Deployment runs them; the
		// other servers with Go's defaults.
		cmd.Env = append(cmd.Env, deploymentRuntimeEnv(t)...)
	}
	if name == "receiver" && *sbGOGC != "" {
		cmd.Env = append(cmd.Env, "GOGC="+*sbGOGC)
	}
	if profile != "" {
		cmd.Env = append(cmd.Env, benchProfileEnv+"="+profile)
	}
	cmd.Stderr = stderr
	return startBenchServer(t, name, testIntegration().ReceiverPath(), cmd)
}

func octokitBenchServer(t *testing.T) *benchServer {
	cache, err := testfixtures.NPMCache()
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the octokit-node comparison: %v", err)
	}
	path := testIntegration().ReceiverPath()
	cmd := pinned(node, "--input-type=module", "--eval", octokitServerScript)
	cmd.Dir = cache
	cmd.Env = append(os.Environ(), "HOOKWARDEN_BENCH_SECRET="+testSecret, "HOOKWARDEN_BENCH_PATH="+path)
	cmd.Stderr = os.Stderr
	return startBenchServer(t, "octokit-node", path, cmd)
}

// benchStats are the results of one server at one payload size.
type benchStats struct {
	rates     []float64
	latencies []time.Duration
}

func (st *benchStats) rate() float64 {
	r := slices.Clone(st.rates)
	slices.Sort(r)
	if len(r) == 0 {
		return 0
	}
	return r[len(r)/2]
}

func (st *benchStats) percentile(p int) time.Duration {
	if len(st.latencies) == 0 {
		return 0
	}
	slices.Sort(st.latencies)
	return st.latencies[(len(st.latencies)-1)*p/100]
}

func TestSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	rounds, duration, warmup, sizes := *sbRounds, *sbDuration, 300*time.Millisecond, benchSizes
	if !*sideBySide {
		rounds, duration, warmup = 1, 100*time.Millisecond, 20*time.Millisecond
	}
	if *sbSize != "" {
		sizes = slices.DeleteFunc(slices.Clone(sizes), func(s benchSize) bool { return s.name != *sbSize })
		if len(sizes) == 0 {
			t.Fatalf("-sidebyside.size=%s: no such payload size", *sbSize)
		}
	}
	profile := *sbProfile
	if profile != "" {
		if profile, _ = filepath.Abs(profile); profile == "" {
			t.Fatal("bad -sidebyside.cpuprofile")
		}
	}

	logPath := filepath.Join(t.TempDir(), "receiver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	bare := goBenchServer(t, "bare", os.Stderr, "")
	verify := goBenchServer(t, "go-verify", os.Stderr, "")
	receiver := goBenchServer(t, "receiver", logFile, profile)
	octokit := octokitBenchServer(t)
	servers := []*benchServer{bare, verify, receiver, octokit}
	var baseline *benchServer
	if *sbBaseline != "" {
		// Its log lines go to a file as the receiver's do: written to a
		// pipe instead, they cost the baseline less, and two receivers of
		// the same code measured 0.87 to 0.93 of each other.
		baselineLog, err := os.Create(filepath.Join(t.TempDir(), "receiver-baseline.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer baselineLog.Close()
		baseline = goBenchServerFrom(t, *sbBaseline, "receiver-baseline", "receiver", baselineLog, "")
		servers = append(servers, baseline)
	}

	payloads := make([][]byte, len(sizes))
	for i, size := range sizes {
		payloads[i] = pushOfSize(t, size.bytes)
	}
	stats := map[string]*benchStats{}
	// A new order every round and size, so that no server always runs
	// right after the same other one (what a server leaves behind on the
	// pinned CPU, node's collector above all, slows the next) or at the
	// same point of the machine's noise. A rotation would keep each
	// server's predecessor; a shuffle from a fixed seed changes it and
	// stays reproducible.
	order := rand.New(rand.NewPCG(1, 2))
	for range rounds {
		for i, size := range sizes {
			for _, j := range order.Perm(len(servers)) {
				srv := servers[j]
				res, err := driveLoad(srv, payloads[i], *sbConns, warmup, duration)
				if err != nil {
					t.Fatalf("%s at %s: %v", srv.name, size.name, err)
				}
				key := srv.name + "/" + size.name
				if stats[key] == nil {
					stats[key] = &benchStats{}
				}
				stats[key].rates = append(stats[key].rates, res.rate)
				stats[key].latencies = append(stats[key].latencies, res.latencies...)
			}
		}
	}

	_ = bare.stop(t, "")
	_ = verify.stop(t, "")
	if baseline != nil {
		_ = baseline.stop(t, "status-writes")
	}
	writes := receiver.stop(t, "status-writes")
	pushes := octokit.stop(t, "pushes")
	logged := countLines(t, logPath, `"msg":"Delivery answered"`)
	delivered := receiver.sent.Load()

	var out strings.Builder
	fmt.Fprintf(&out, "\nSide by side, %d rounds × %s per server and size, %d keep-alive connections, servers pinned to CPU %q, GOMAXPROCS=1\n\n",
		rounds, duration, *sbConns, *sbServerCPU)
	fmt.Fprintf(&out, "The receivers run with the Deployment's Go runtime settings (%s)", strings.Join(deploymentRuntimeEnv(t), " "))
	if *sbGOGC != "" {
		fmt.Fprintf(&out, ", this revision's with GOGC=%s", *sbGOGC)
	}
	fmt.Fprintf(&out, "; the other servers with Go's defaults.\n\n")
	fmt.Fprintf(&out, "| payload | server | req/s (median of rounds) | p50 | p99 |\n|---|---|---:|---:|---:|\n")
	for _, size := range sizes {
		for _, srv := range servers {
			st := stats[srv.name+"/"+size.name]
			fmt.Fprintf(&out, "| %s | %s | %.0f | %s | %s |\n", size.name, srv.name, st.rate(),
				micros(st.percentile(50)), micros(st.percentile(99)))
		}
	}
	fmt.Fprintf(&out, "\n| target | payload | measured | goal | |\n|---|---|---:|---:|---|\n")
	for _, size := range sizes {
		r, b, v, o := stats["receiver/"+size.name], stats["bare/"+size.name], stats["go-verify/"+size.name], stats["octokit-node/"+size.name]
		ratio := func(what string, got, goal float64, atLeast bool) {
			rel, ok := "≥", got >= goal
			if !atLeast {
				rel, ok = "≤", got <= goal
			}
			fmt.Fprintf(&out, "| %s | %s | %.2f | %s %.2f | %s |\n", what, size.name, got, rel, goal, verdict(ok))
		}
		p99 := func(st *benchStats) float64 { return float64(r.percentile(99)) / float64(st.percentile(99)) }
		if size.bytes <= 64<<10 {
			// The targets at push size.
			ratio("throughput vs bare", r.rate()/b.rate(), 0.8, true)
			ratio("throughput vs go-verify", r.rate()/v.rate(), 1.0, true)
			ratio("p99 vs bare", p99(b), 2, false)
		} else {
			// Where the HMAC alone costs more than bare's whole request.
			ratio("throughput vs go-verify", r.rate()/v.rate(), 0.85, true)
			ratio("p99 vs go-verify", p99(v), 1.5, false)
		}
		ratio("throughput vs octokit-node", r.rate()/o.rate(), 2, true)
		if baseline != nil {
			fmt.Fprintf(&out, "| throughput vs the baseline revision | %s | %.3f | | |\n", size.name, r.rate()/stats["receiver-baseline/"+size.name].rate())
		}
	}
	perDelivery := float64(writes) / float64(delivered)
	fmt.Fprintf(&out, "| Kubernetes writes per delivery | all | %d / %d = %.5f | ≤ 0.05 | %s |\n", writes, delivered, perDelivery, verdict(perDelivery <= 0.05))
	fmt.Fprintf(&out, "\nReceiver log lines \"Delivery answered\": %d for %d deliveries; octokit push handler ran %d times for %d deliveries.\n",
		logged, delivered, pushes, octokit.sent.Load())
	if *sideBySide {
		fmt.Print(out.String())
	} else {
		t.Log(out.String())
	}

	if logged != delivered {
		t.Errorf("receiver logged %d deliveries, answered %d: want one line per delivery", logged, delivered)
	}
	if pushes != octokit.sent.Load() {
		t.Errorf("octokit handled %d pushes of %d deliveries", pushes, octokit.sent.Load())
	}
	if writes < 1 || perDelivery > 0.05 {
		t.Errorf("receiver made %d status writes for %d deliveries", writes, delivered)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func countLines(t *testing.T, path, substr string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// loadResult is one round against one server.
type loadResult struct {
	rate      float64
	latencies []time.Duration
}

// benchGUIDs numbers delivery GUIDs across servers and rounds, so that the
// receiver never sees a duplicate.
var benchGUIDs atomic.Int64

// driveLoad posts payload over conns keep-alive connections, each sending
// its next request when the previous answer was read, for warm+measure. Only
// requests started in the measured window count. The client is lean (one
// prepared request per connection, written with one call; a minimal response
// reader) so that it outpaces every server on its own core.
func driveLoad(srv *benchServer, payload []byte, conns int, warm, measure time.Duration) (loadResult, error) {
	sig := delivery.Signature([]byte(testSecret), payload)
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			return loadResult{}, err
		}
		defer c.Close()
		cs[i] = c
	}
	start := time.Now()
	from, until := start.Add(warm), start.Add(warm+measure)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		count     int
		firstErr  error
		wg        sync.WaitGroup
	)
	for _, c := range cs {
		wg.Go(func() {
			req, guid := benchRequest(srv, payload, sig)
			br := bufio.NewReaderSize(c, 16<<10)
			local := make([]time.Duration, 0, 4096)
			var err error
			for {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				n := benchGUIDs.Add(1)
				for k := guid + 11; k >= guid; k-- {
					req[k] = byte('0' + n%10)
					n /= 10
				}
				srv.sent.Add(1)
				if _, err = c.Write(req); err != nil {
					break
				}
				var code int
				if code, err = readAnswer(br); err != nil {
					break
				}
				if code != http.StatusOK {
					err = fmt.Errorf("answered %d, want 200", code)
					break
				}
				if !t0.Before(from) {
					local = append(local, time.Since(t0))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, local...)
			count += len(local)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return loadResult{}, firstErr
	}
	return loadResult{rate: float64(count) / measure.Seconds(), latencies: latencies}, nil
}

// benchRequest returns a signed push delivery as GitHub sends it and the
// offset of the last 12 digits of its delivery GUID.
func benchRequest(srv *benchServer, payload []byte, sig string) ([]byte, int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: GitHub-Hookshot/044aadd\r\nAccept: */*\r\n", srv.path, srv.addr)
	fmt.Fprintf(&b, "Content-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Hook-ID: %s\r\n", testHookID)
	fmt.Fprintf(&b, "X-GitHub-Hook-Installation-Target-Type: repository\r\nX-GitHub-Hook-Installation-Target-ID: 35129377\r\n")
	fmt.Fprintf(&b, "X-Hub-Signature-256: %s\r\nContent-Length: %d\r\nX-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-", sig, len(payload))
	guid := b.Len()
	fmt.Fprintf(&b, "000000000000\r\n\r\n")
	b.Write(payload)
	return b.Bytes(), guid
}

var errBadAnswer = errors.New("malformed HTTP answer")

// readAnswer reads one HTTP/1.1 answer and returns its status code.
func readAnswer(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errBadAnswer
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errBadAnswer
	}
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, errBadAnswer
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, errBadAnswer
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			return 0, errors.New("server closed the keep-alive connection")
		}
	}
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
			if err != nil {
				return 0, errBadAnswer
			}
			if _, err := br.Discard(int(size) + 2); err != nil {
				return 0, err
			}
			if size == 0 {
				return code, nil
			}
		}
	case length > 0:
		_, err = br.Discard(length)
	case length < 0:
		return 0, errors.New("answer without Content-Length")
	}
	return code, err
}
