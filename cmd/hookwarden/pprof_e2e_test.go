package main

import (
	"net/http"
	"strings"
	"testing"
)

// Go's profiles are served only on --pprof-bind-address, and only when it
// is set: never on the metrics, health or receiver addresses.
func TestProfilesServedOnlyWhenAsked(t *testing.T) {
	e := newE2E(t, nil)
	e.opts.MetricsBindAddress, e.opts.HealthProbeBindAddress = freeAddr(t), freeAddr(t)
	e.start()
	for _, addr := range []string{e.opts.MetricsBindAddress, e.opts.HealthProbeBindAddress, e.addr} {
		if code, _ := get(t, "http://"+addr+"/debug/pprof/"); code == http.StatusOK {
			t.Errorf("without --pprof-bind-address, %s serves /debug/pprof/", addr)
		}
	}
	e.stop()

	e.opts.PprofBindAddress = freeAddr(t)
	e.start()
	code, body := get(t, "http://"+e.opts.PprofBindAddress+"/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "heap") {
		t.Errorf("--pprof-bind-address: /debug/pprof/ answered %d without the heap profile", code)
	}
	if code, _ := get(t, "http://"+e.opts.PprofBindAddress+"/debug/pprof/heap"); code != http.StatusOK {
		t.Errorf("--pprof-bind-address: /debug/pprof/heap answered %d", code)
	}
}
