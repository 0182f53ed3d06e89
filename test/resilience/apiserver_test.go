package resilience

import (
	"testing"
	"time"
)

// TestAPIServerOutage stops kube-apiserver and etcd for 30 s during a stream
// of 20 deliveries/s, then starts them again on the same ports and data.
func TestAPIServerOutage(t *testing.T) {
	s, _, stream := streaming(t, "API server (kube-apiserver and etcd) stopped 30 s during a stream of 20 deliveries/s")
	stopAt := time.Now()
	if err := controlPlane.StopControlPlane(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(30*time.Second - time.Since(stopped))
	if err := controlPlane.StartControlPlane(); err != nil {
		t.Fatal(err)
	}
	s.note("API server: SIGTERM at %s, stopped %s later, down for 30 s, started again at %s",
		stopAt.Format("15:04:05"), stopped.Sub(stopAt).Round(time.Second), time.Now().Format("15:04:05"))
	time.Sleep(10 * time.Second)
	attempts, err := stream.Stop()
	if err != nil {
		t.Error(err)
	}
	s.settle(attempts, 3*time.Minute)
	s.finish()
}
