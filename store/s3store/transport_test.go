package s3store

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/internal/testserver"
)

// faultyTransport sits between the store and a TLS MinIO and damages
// traffic on purpose: it flips a byte of each PUT body (as a bad NIC or proxy
// would, after the client computed its checksums), or cuts the body of the
// first GET after cutAfter bytes.
type faultyTransport struct {
	next http.RoundTripper

	mu        sync.Mutex
	flipPuts  bool
	cutAfter  int64 // >0: the first GET's body breaks after this many bytes
	cut       bool  // the first GET was cut
	getRanges []string
}

func newFaultyTransport(t *testing.T, m *testserver.MinIO) *faultyTransport {
	t.Helper()
	pool, err := m.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		t.Fatal(err)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &faultyTransport{next: tr}
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	flip, cutAfter := f.flipPuts, f.cutAfter
	if req.Method == http.MethodGet && req.URL.Query().Get("list-type") == "" && cutAfter > 0 {
		f.getRanges = append(f.getRanges, req.Header.Get("Range"))
	}
	f.mu.Unlock()
	if flip && req.Method == http.MethodPut && req.Body != nil && req.ContentLength > 0 {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body[len(body)/2] ^= 0x01
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := f.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || cutAfter <= 0 || resp.StatusCode/100 != 2 {
		return resp, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cut && resp.ContentLength > cutAfter {
		f.cut = true
		resp.Body = &cutBody{ReadCloser: resp.Body, left: cutAfter}
	}
	return resp, nil
}

// cutBody fails as a connection reset mid-body would, after left bytes.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}
