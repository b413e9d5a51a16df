package storeurl

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testserver"
)

// A Kafka location with TLS (a private CA, a client certificate) and SASL
// SCRAM-SHA-256 opens with the password from TIDELOG_KAFKA_PASSWORD or from
// password_file; the location, which is logged, holds neither; a wrong
// password fails at once naming the mechanism, the user and where the
// password came from.
func TestOpenKafkaTLSAndSASL(t *testing.T) {
	const user, password = "tidelog", "storeurl-Kafka-secret"
	pki := testserver.NewPKIT(t)
	srv, err := pki.ServerTLS(true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srv), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	raw := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/secure?tls=true" +
		"&ca_file=" + url.QueryEscape(pki.CAFile) + "&cert_file=" + url.QueryEscape(pki.ClientCertFile) +
		"&key_file=" + url.QueryEscape(pki.ClientKeyFile) + "&sasl=scram-sha-256&user=" + user

	t.Setenv(KafkaPasswordEnv, "")
	if _, err := Open(testCtx(t), raw, Options{Create: true}); err == nil || !strings.Contains(err.Error(), KafkaPasswordEnv+" with the password is not set") {
		t.Errorf("open without a password: %v, want a message naming %s", err, KafkaPasswordEnv)
	}

	t.Setenv(KafkaPasswordEnv, password)
	w, _ := roundTrip(t, raw)
	if s := w.String(); strings.Contains(s, password) || s != "kafka:"+strings.Join(c.ListenAddrs(), ",")+"/secure" {
		t.Errorf("String() = %q", s)
	}

	// password_file wins over the environment.
	t.Setenv(KafkaPasswordEnv, "not-"+password)
	pwFile := filepath.Join(t.TempDir(), "kafka.pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, raw+"&password_file="+url.QueryEscape(pwFile))

	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, raw, Options{})
	if err == nil {
		t.Fatal("open with a wrong password succeeded")
	}
	for _, want := range []string{"SASL SCRAM-SHA-256", `user "tidelog"`, "environment variable " + KafkaPasswordEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("wrong password: %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("wrong password: the error shows a password: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a wrong password took %v to fail", took)
	}
}
