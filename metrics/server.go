// Package metrics serves what operators watch a tidelog daemon by: Prometheus
// metrics on /metrics, liveness on /healthz, readiness on /readyz and the
// daemon's own status as JSON on /status (what `tailerd status` prints).
//
// Each daemon builds its own prometheus.Registry: nothing is registered in a
// global, so two daemons in one test process never share a series.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Server is the daemon's HTTP endpoint.
type Server struct {
	// Registry holds the daemon's series; /metrics serves exactly these.
	Registry *prometheus.Registry
	// Ready says whether the daemon is doing its job; nil error is ready.
	// A nil Ready is always ready.
	Ready func() error
	// Status is encoded as JSON on /status; nil serves 404.
	Status func() any
	Log    zerolog.Logger
}

// Listen binds addr at once, so that a port already taken is reported at
// start, not after the daemon has begun work.
func (s *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener %s: %w", addr, err)
	}
	return ln, nil
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the endpoint's routes, for tests and for embedding.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	reg := s.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: promLog{s.Log}}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Alive: the process answers. Whether it does its job is /readyz.
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.Ready != nil {
			if err := s.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		if s.Status == nil {
			http.NotFound(w, nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s.Status()); err != nil {
			s.Log.Warn().Err(err).Msg("encoding /status")
		}
	})
	return mux
}

type promLog struct{ log zerolog.Logger }

func (l promLog) Println(v ...any) { l.log.Warn().Msg(fmt.Sprint(v...)) }
