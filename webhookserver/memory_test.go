package webhookserver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

// heapInUse is the live heap, after collecting garbage.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// serveTCPCounting is serveTCP counting in read what the server reads.
func serveTCPCounting(t testing.TB, s *Server, read *atomic.Int64) string {
	t.Helper()
	return serveListener(t, s, func(ln net.Listener) net.Listener { return countingListener{ln, read} })
}

// attack opens one connection per peer that declares a 25 MiB body, sends
// the headers and body bytes of it, and stalls (keeps the connection open
// without sending more). It returns how many bytes were sent in all.
func attack(t *testing.T, addr string, peers []string, signature string, body []byte) int64 {
	t.Helper()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: receiver.test\r\nContent-Type: application/json\r\n"+
		"%s: push\r\n%s: %s\r\nContent-Length: %d\r\n", hookv1.ReceiverPath(testNS, testName),
		delivery.HeaderEvent, delivery.HeaderDelivery, newGUID(), MaxBodyBytes)
	if signature != "" {
		head += delivery.HeaderSignature256 + ": " + signature + "\r\n"
	}
	head += "\r\n"
	var sent atomic.Int64
	var wg sync.WaitGroup
	for _, peer := range peers {
		c := dialFrom(t, peer, addr)
		wg.Go(func() {
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			n, _ := io.WriteString(c, head)
			sent.Add(int64(n))
			m, _ := c.Write(body)
			sent.Add(int64(m))
		})
	}
	wg.Wait()
	return sent.Load()
}

func peers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s.%d", prefix, 1+i)
	}
	return out
}

// TestMemoryAttackStaysUnderTheBudget attacks the receiver's memory as a
// review did: many connections declaring 25 MiB bodies and sending them
// slowly (here: part of them, then nothing). Unsigned ones are refused from
// their headers and hold nothing; ones with a forged signature are read as
// their bytes arrive, within the body budget, and refused 503 or 429 beyond
// it. The heap, measured, grows by less than the body budget plus what the
// connections themselves hold.
func TestMemoryAttackStaysUnderTheBudget(t *testing.T) {
	const budget = 16 << 20
	opts := Options{BodyBudget: budget}
	s := newHandlerServer(t, opts)
	var read atomic.Int64
	addr := serveTCPCounting(t, s, &read)
	worst := opts.WorstCaseMemory()
	allRead := func(sent int64) func() error {
		return func() error {
			if got := read.Load(); got < sent {
				return fmt.Errorf("the server read %d of %d bytes sent", got, sent)
			}
			return nil
		}
	}

	before := heapInUse()
	const conns = 40
	sent := attack(t, addr, peers("127.0.3", conns), "", bytes.Repeat([]byte{' '}, 64<<10))
	eventually(t, 20*time.Second, "the unsigned attack read", allRead(sent))
	unsigned := heapInUse() - before
	t.Logf("unsigned attack: heap +%d bytes for %d connections", unsigned, conns)
	if limit := int64(conns) * connectionMemory; unsigned > limit {
		t.Errorf("the unsigned attack grew the heap by %d bytes, want at most %d", unsigned, limit)
	}

	forged := "sha256=" + strings.Repeat("0", 64)
	sent += attack(t, addr, peers("127.0.4", conns), forged, bytes.Repeat([]byte{' '}, 1<<20))
	eventually(t, 20*time.Second, "the forged attack read", allRead(sent))
	grown := heapInUse() - before
	if held := s.bodies.inUse(); held > budget || held < budget/2 {
		t.Errorf("bodies hold %d bytes of the budget of %d, want at most all and at least half of it", held, budget)
	}
	t.Logf("both attacks: heap +%d bytes; the body budget holds %d", grown, s.bodies.inUse())
	if limit := worst.Bodies + worst.IdleBodyBuffers + 2*conns*connectionMemory; grown > limit {
		t.Errorf("the attacks grew the heap by %d bytes, want at most %d", grown, limit)
	}
}

// TestDefaultLimitsFitTheDeployment: the worst case of the default limits,
// plus the room kept for the reconciler, fits the memory limit of the
// Deployment in config/manager, and the Go runtime's memory limit there
// (GOMEMLIMIT) lies between them.
func TestDefaultLimitsFitTheDeployment(t *testing.T) {
	raw, err := os.ReadFile("../config/manager/manager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var limit, goLimit string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var d struct {
			Kind string `json:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string `json:"name"`
							Env  []struct {
								Name  string `json:"name"`
								Value string `json:"value"`
							} `json:"env"`
							Resources struct {
								Limits map[string]string `json:"limits"`
							} `json:"resources"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if d.Kind == "Deployment" && c.Name == "manager" {
				limit = c.Resources.Limits["memory"]
				for _, e := range c.Env {
					if e.Name == "GOMEMLIMIT" {
						goLimit = e.Value
					}
				}
			}
		}
	}
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		t.Fatalf("memory limit %q of the manager container: %v", limit, err)
	}
	if q.Value() != DeploymentMemoryLimit {
		t.Errorf("config/manager limits memory to %s (%d bytes), DeploymentMemoryLimit is %d", limit, q.Value(), DeploymentMemoryLimit)
	}
	worst := Options{}.WorstCaseMemory()
	t.Logf("worst case of the default limits: %+v = %d MiB", worst, worst.Total()>>20)
	if need := worst.Total() + ReconcilerMemory; need > DeploymentMemoryLimit {
		t.Errorf("worst case %d MiB + %d MiB for the reconciler exceeds the limit of %d MiB",
			worst.Total()>>20, ReconcilerMemory>>20, DeploymentMemoryLimit>>20)
	}
	goBytes, err := resource.ParseQuantity(strings.TrimSuffix(goLimit, "B"))
	if err != nil {
		t.Fatalf("GOMEMLIMIT %q of the manager container: %v", goLimit, err)
	}
	if g := goBytes.Value(); g < worst.Total()+ReconcilerMemory || g > DeploymentMemoryLimit {
		t.Errorf("GOMEMLIMIT %s is not between the worst case with the reconciler (%d MiB) and the limit (%d MiB)",
			goLimit, (worst.Total()+ReconcilerMemory)>>20, DeploymentMemoryLimit>>20)
	}
}

// TestLimitsOverTheMemoryLimitAreLogged: limits whose worst case does not
// fit the Go runtime's memory limit are reported at start.
func TestLimitsOverTheMemoryLimitAreLogged(t *testing.T) {
	previous := debug.SetMemoryLimit(320 << 20)
	defer debug.SetMemoryLimit(previous)
	for _, tc := range []struct {
		opts   Options
		logged bool
	}{
		{Options{BodyBudget: 1 << 30}, true},
		{Options{BodyBudget: MinBodyBudget(), MaxConnections: 64, QueueSize: 64, DedupeSize: 64}, false},
	} {
		var lines []string
		log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
		if _, err := newServer(tc.opts, serverDeps{log: log}); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(strings.Join(lines, "\n"), "Receiver limits may exceed the memory limit")
		if warned != tc.logged {
			t.Errorf("body budget %d MiB under a 320 MiB limit: warned %v, want %v (%v)", tc.opts.BodyBudget>>20, warned, tc.logged, lines)
		}
	}
}
