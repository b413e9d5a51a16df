package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tidelog_test_value", Help: "test"})
	reg.MustRegister(g)
	g.Set(42)
	var notReady error = errors.New("source unreachable")
	s := &Server{Registry: reg, Ready: func() error { return notReady }, Status: func() any { return map[string]int{"x": 1} }, Log: zerolog.Nop()}
	h := s.Handler()

	if code, body := get(t, h, "/metrics"); code != 200 || !strings.Contains(body, "tidelog_test_value 42") {
		t.Fatalf("/metrics: %d %q", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "source unreachable") {
		t.Fatalf("/readyz while not ready: %d %q", code, body)
	}
	notReady = nil
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Fatalf("/readyz when ready: %d", code)
	}
	if code, body := get(t, h, "/status"); code != 200 || !strings.Contains(body, `"x": 1`) {
		t.Fatalf("/status: %d %q", code, body)
	}
}
