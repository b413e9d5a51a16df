package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// secret is a value that must never show in anything tidelog prints, logs,
// serves or leaves in its local state.
type secret struct {
	what, value string
	extra       []string // more forms it could be printed in
}

func newSecret(t *testing.T, what, prefix string) secret {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return secret{what: what, value: prefix + hex.EncodeToString(b)}
}

// forms are the ways the value could be printed: as it is, URL-encoded
// (as in a URI or a query) and base64-encoded (as in an auth header or a
// SASL PLAIN message).
func (s secret) forms() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range append([]string{s.value, url.QueryEscape(s.value), url.PathEscape(s.value),
		url.UserPassword("u", s.value).String()[2:],
		base64.StdEncoding.EncodeToString([]byte(s.value)), base64.RawStdEncoding.EncodeToString([]byte(s.value)),
		base64.URLEncoding.EncodeToString([]byte(s.value)), base64.RawURLEncoding.EncodeToString([]byte(s.value)),
	}, s.extra...) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// found returns the forms of s that text holds.
func (s secret) found(text string) []string {
	var hits []string
	for _, f := range s.forms() {
		if strings.Contains(text, f) {
			hits = append(hits, f)
		}
	}
	return hits
}

// outputs is everything the commands of a test printed, served and wrote
// locally, each under a label saying where it came from.
type outputs struct {
	labels []string
	texts  map[string]string
}

func (o *outputs) add(label, text string) {
	if o.texts == nil {
		o.texts = map[string]string{}
	}
	if _, ok := o.texts[label]; !ok {
		o.labels = append(o.labels, label)
	}
	o.texts[label] += text
}

// addTree adds every regular file under dir (a checkpoint, a spool).
func (o *outputs) addTree(t *testing.T, label, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		o.add(label+" "+path, string(data))
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("files of %s (%s): %d files, %v", label, dir, n, err)
	}
}

// check fails the test for every form of every secret in any output,
// naming the output and the secret, not printing the value again.
func (o *outputs) check(t *testing.T, secrets []secret) {
	t.Helper()
	bytes := 0
	for _, label := range o.labels {
		bytes += len(o.texts[label])
		for _, s := range secrets {
			if hits := s.found(o.texts[label]); len(hits) > 0 {
				t.Errorf("%s shows the %s (%d form(s) of it)", label, s.what, len(hits))
			}
		}
	}
	t.Logf("checked %d outputs (%d bytes) for %d secrets in %d forms each", len(o.labels), bytes, len(secrets), len(secrets[0].forms()))
}

// runEnv runs binary (tailerd or replayer) with args, the test's
// environment and env on top of it, and returns the exit code and
// everything it printed. limit bounds it: a hang fails the test.
func runEnv(t *testing.T, limit time.Duration, env map[string]string, binary string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		kv = append(kv, k+"="+env[k])
	}
	r, err := procs.Run(ctx, filepath.Join(binDir, binary), kv, args...)
	if err != nil {
		t.Fatal(err)
	}
	out := r.Stdout + r.Stderr
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %s:\n%s", binary, strings.Join(args, " "), limit, out)
	}
	return r.Code, out
}

// No secret ever shows: tailerd and replayer run with distinctive secrets
// everywhere they take one (a MongoDB source and a target password in URIs,
// the Kafka SASL password, the S3 secret key, the encryption key) through
// a capture with a snapshot, a reload, restores, a follower, and the
// failures those secrets can provoke (wrong passwords and keys, servers
// that are not there, credentials put in a location, malformed URIs and
// configs). Every byte they print, log and serve (/metrics, /status,
// `tailerd status`), and every file of their local state (checkpoints,
// spool), is searched for every secret as it is, URL-encoded and
// base64-encoded.
func TestSecretsNeverInOutput(t *testing.T) {
	ctx := context.Background()
	mongoPW := newSecret(t, "MongoDB source password", "Src+Pa55/w0rd@")
	targetPW := newSecret(t, "MongoDB target password", "Tgt:Pa55%")
	wrongPW := newSecret(t, "wrong MongoDB password", "Wrong-Mongo-Pa55-")
	rotatedPW := newSecret(t, "MongoDB password in the reloaded config", "Rotated-Mongo-Pa55-")
	kafkaPW := newSecret(t, "Kafka SASL password", "Kafka-SASL-Pa55-")
	wrongKafkaPW := newSecret(t, "wrong Kafka SASL password", "Wrong-Kafka-Pa55-")
	s3Key := newSecret(t, "S3 secret key", "S3-Secret-Key-")
	wrongS3Key := newSecret(t, "wrong S3 secret key", "Wrong-S3-Secret-")
	keyBytes := make([]byte, 32)
	if _, err := rand.Read(keyBytes); err != nil {
		t.Fatal(err)
	}
	encKey := secret{what: "encryption key", value: base64.StdEncoding.EncodeToString(keyBytes),
		extra: []string{hex.EncodeToString(keyBytes), base64.RawStdEncoding.EncodeToString(keyBytes)}}
	badKey := newSecret(t, "malformed encryption key", "not-a-key-")
	secrets := []secret{mongoPW, targetPW, wrongPW, rotatedPW, kafkaPW, wrongKafkaPW, s3Key, wrongS3Key, encKey, badKey}

	src := testserver.StartT(t, testserver.Options{Auth: true, Password: mongoPW.value})
	target := testserver.StartT(t, testserver.Options{Auth: true, Password: targetPW.value, NoOplog: true})
	pki := testserver.NewPKIT(t)
	srvTLS, err := pki.ServerTLS(true)
	must(t, err)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srvTLS), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "tidelog", kafkaPW.value))
	must(t, err)
	t.Cleanup(cluster.Close)
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{TLS: true, RootPassword: s3Key.value})
	must(t, m.MakeBucket(ctx, "secrets"))

	// The secrets reach the commands the way docs/security.md says: the
	// environment, and ${VAR} in the config file.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey())
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Key.value)
	t.Setenv("MINIO_ROOT_USER", m.AccessKey())
	t.Setenv("MINIO_ROOT_PASSWORD", s3Key.value)
	t.Setenv("TIDELOG_KAFKA_PASSWORD", kafkaPW.value)
	t.Setenv("TIDELOG_ENCRYPTION_KEY", encKey.value)
	t.Setenv("TIDELOG_SOURCE_PASSWORD", url.QueryEscape(mongoPW.value))

	userURI := func(user, password, addr string) string {
		return "mongodb://" + url.UserPassword(user, password).String() + "@" + addr + "/?directConnection=true"
	}
	srcURI := userURI(src.User(), mongoPW.value, src.Addr)
	targetURI := userURI(target.User(), targetPW.value, target.Addr)
	s3Loc := "s3://secrets/prod?endpoint=" + m.Endpoint() + "&ca_file=" + url.QueryEscape(m.CAFile())
	kafkaLoc := "kafka://" + strings.Join(cluster.ListenAddrs(), ",") + "/sec?tls=true&ca_file=" + url.QueryEscape(pki.CAFile) +
		"&cert_file=" + url.QueryEscape(pki.ClientCertFile) + "&key_file=" + url.QueryEscape(pki.ClientKeyFile) +
		"&sasl=scram-sha-512&user=tidelog"

	var out outputs
	work := t.TempDir()
	ckpt, spool := filepath.Join(work, "checkpoint"), filepath.Join(work, "spool")
	addr := freeAddr(t)
	cfgPath := filepath.Join(work, "tailerd.yaml")
	writeConfig := func(source, logLevel string, mode os.FileMode) string {
		body := fmt.Sprintf("source: '%s'\nstore: '%s'\ncheckpoint: %s\npublish_to:\n  - name: standby\n    store: '%s'\n"+
			"spool: %s\nhttp_addr: %s\nlog_level: %s\ncut_age: 300ms\ncut_bytes: 65536\n",
			source, s3Loc, ckpt, kafkaLoc, spool, addr, logLevel)
		must(t, os.WriteFile(cfgPath, []byte(body), mode))
		must(t, os.Chmod(cfgPath, mode))
		return body
	}
	writeConfig("mongodb://"+src.User()+":${TIDELOG_SOURCE_PASSWORD}@"+src.Addr+"/?directConnection=true", "debug", 0o600)

	// 1. Capture with a snapshot, into S3 and through the spool into Kafka.
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--config", cfgPath)
	base := "http://" + addr
	opsWaitFor(t, 60*time.Second, logPath, "/readyz to answer 200", func() bool {
		code, _ := httpGet(base + "/readyz")
		return code == http.StatusOK
	})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	w := workload.New(client, 11)
	must(t, w.Bulk(ctx, "app.events", 500))
	must(t, w.Step(ctx, 100))
	d.snapshotNow(t)
	opsWaitFor(t, 60*time.Second, logPath, "a snapshot", func() bool { return countSnapshotsTaken(logPath) > 0 })
	must(t, w.Step(ctx, 100))
	last := lastTS(t, src, client)
	state := mustDump(t, client)
	waitRestorable(t, s3Loc, logPath, last)
	waitRestorable(t, kafkaLoc, logPath, last)
	for _, path := range []string{"/metrics", "/status", "/healthz", "/readyz"} {
		code, body := httpGet(base + path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
		out.add("tailerd GET "+path, body)
	}
	for _, args := range [][]string{{"--http-addr", addr}, {"--http-addr", addr, "--json"}, {"--config", cfgPath}} {
		stdout, stderr, code := runTailerdStatus(t, args...)
		if code != 0 {
			t.Errorf("tailerd status %v: exit %d\n%s", args, code, stderr)
		}
		out.add("tailerd status "+strings.Join(args, " "), stdout+stderr)
	}

	// 2. A reload that changes the source's password, written literally
	// into a file others may read: logged as needing a restart, with a
	// warning about the file, neither showing the password.
	reloaded := writeConfig(userURI(src.User(), rotatedPW.value, src.Addr), "info", 0o644)
	if len(rotatedPW.found(reloaded)) == 0 {
		t.Fatal("the check finds no secret in a config that holds one: it could not fail")
	}
	must(t, d.Signal(syscall.SIGHUP))
	opsWaitFor(t, 30*time.Second, logPath, "the reload to be logged", func() bool {
		return d.Logged("config reloaded", "source") && d.Logged("readable by group or others")
	})
	_, body := httpGet(base + "/status")
	out.add("tailerd GET /status after the reload", body)
	if code := d.stop(t); code != 0 {
		t.Errorf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}
	out.add("tailerd log (capture, reload)", d.Output())
	out.addTree(t, "tailerd checkpoint", ckpt)
	out.addTree(t, "tailerd spool", spool)

	// 3. The stores read back: list, verify, restores (the target has a
	// password too), a follower with its endpoint.
	for _, loc := range []string{s3Loc, kafkaLoc} {
		for _, args := range [][]string{{"list", "--store", loc}, {"list", "--store", loc, "--json"}, {"verify", "--store", loc}} {
			code, text := runEnv(t, 2*time.Minute, nil, "replayer", args...)
			if code != 0 {
				t.Errorf("replayer %v: exit %d\n%s", args, code, text)
			}
			out.add("replayer "+strings.Join(args, " "), text)
		}
		code, text := runEnv(t, 2*time.Minute, nil, "replayer", "restore", "--store", loc, "--target", targetURI, "--to", last.String(), "--drop")
		if code != 0 {
			t.Fatalf("restore from %s: exit %d\n%s", loc, code, text)
		}
		out.add("replayer restore from "+loc, text)
		tc, err := target.Client()
		must(t, err)
		if diff := workload.Diff(state, mustDump(t, tc)); diff != "" {
			t.Errorf("restore from %s differs from the source:\n%s", loc, diff)
		}
		tc.Disconnect(ctx)
	}
	followAddr, followCkpt := freeAddr(t), filepath.Join(work, "follow-checkpoint")
	f := startFollower(t, filepath.Join(work, "follow.log"), "follow", "--store", kafkaLoc, "--target", targetURI,
		"--checkpoint", followCkpt, "--drop", "--poll", "100ms", "--http-addr", followAddr)
	opsWaitFor(t, 60*time.Second, f.LogPath, "the follower to be ready", func() bool {
		code, _ := httpGet("http://" + followAddr + "/readyz")
		return code == http.StatusOK
	})
	for _, path := range []string{"/metrics", "/status"} {
		_, body := httpGet("http://" + followAddr + path)
		out.add("replayer follow GET "+path, body)
	}
	if code := f.stop(t); code != 0 {
		t.Errorf("follower exited %d on SIGTERM\n%s", code, f.Output())
	}
	out.add("replayer follow log", f.Output()+f.stdout.String())
	out.addTree(t, "replayer follow checkpoint", followCkpt)

	// 4. Failures, each provoked by a secret or around one.
	dirStore := filepath.Join(work, "dir-store")
	unreachable := userURI(src.User(), mongoPW.value, "127.0.0.1:1")
	badLiteral := filepath.Join(work, "bad.yaml")
	must(t, os.WriteFile(badLiteral, []byte("source: '"+srcURI+"'\nstore: "+dirStore+"\ncut_age: soon\n"), 0o644))
	for _, tc := range []struct {
		name   string
		env    map[string]string
		binary string
		args   []string
		code   int // -1: any
	}{
		{"tailerd wrong source password", nil, "tailerd", []string{"--source", userURI(src.User(), wrongPW.value, src.Addr), "--store", dirStore, "--connect-timeout", "3s", "--log-level", "debug"}, 4},
		{"tailerd unreachable source", nil, "tailerd", []string{"--source", unreachable, "--store", dirStore, "--connect-timeout", "2s", "--log-level", "debug"}, 4},
		{"tailerd malformed source URI", nil, "tailerd", []string{"--source", "mongodb://u:" + url.QueryEscape(mongoPW.value) + "@127.0.0.1:port/", "--store", dirStore}, 2},
		{"tailerd source password with '@' unescaped", nil, "tailerd", []string{"--source", "mongodb://u:" + mongoPW.value + "@127.0.0.1:1/", "--store", dirStore}, 2},
		{"tailerd --member without NAME=", nil, "tailerd", []string{"--member", srcURI, "--store", dirStore}, 2},
		{"tailerd --publish-to without NAME=", nil, "tailerd", []string{"--source", srcURI, "--store", dirStore, "--spool", spool,
			"--publish-to", "kafka://tidelog:" + url.QueryEscape(kafkaPW.value) + "@127.0.0.1:1/p?sasl=scram-sha-256"}, 2},
		{"tailerd password in a Kafka location", nil, "tailerd", []string{"--source", srcURI, "--checkpoint", ckpt,
			"--store", kafkaLoc + "&password=" + url.QueryEscape(kafkaPW.value)}, 2},
		{"tailerd S3 keys in a location", nil, "tailerd", []string{"--source", srcURI, "--checkpoint", ckpt,
			"--store", "s3://" + m.AccessKey() + ":" + url.QueryEscape(s3Key.value) + "@secrets/prod?endpoint=" + m.Endpoint()}, 2},
		{"tailerd wrong Kafka password", map[string]string{"TIDELOG_KAFKA_PASSWORD": wrongKafkaPW.value}, "tailerd",
			[]string{"--source", srcURI, "--store", kafkaLoc, "--checkpoint", filepath.Join(work, "ckpt-kafka"), "--log-level", "debug"}, 5},
		{"tailerd wrong S3 secret key", map[string]string{"AWS_SECRET_ACCESS_KEY": wrongS3Key.value, "MINIO_ROOT_PASSWORD": wrongS3Key.value}, "tailerd",
			[]string{"--source", srcURI, "--store", s3Loc, "--checkpoint", filepath.Join(work, "ckpt-s3"), "--log-level", "debug"}, 5},
		{"tailerd malformed encryption key", map[string]string{"TIDELOG_ENCRYPTION_KEY": badKey.value}, "tailerd",
			[]string{"--source", unreachable, "--store", filepath.Join(work, "key-store"), "--connect-timeout", "2s", "--log-level", "debug"}, -1},
		{"tailerd bad config with a literal password", nil, "tailerd", []string{"--config", badLiteral}, 2},
		{"tailerd status of no daemon", nil, "tailerd", []string{"status", "--http-addr", freeAddr(t)}, 1},
		{"replayer restore wrong target password", nil, "replayer", []string{"restore", "--store", s3Loc,
			"--target", userURI(target.User(), wrongPW.value, target.Addr), "--to", last.String(), "--connect-timeout", "3s"}, 7},
		{"replayer restore malformed target URI", nil, "replayer", []string{"restore", "--store", s3Loc,
			"--target", "mongodb://u:" + url.QueryEscape(targetPW.value) + "@127.0.0.1:port/", "--to", last.String()}, 2},
		{"replayer restore unreachable target", nil, "replayer", []string{"restore", "--store", kafkaLoc,
			"--target", userURI(target.User(), targetPW.value, "127.0.0.1:1"), "--to", last.String(), "--connect-timeout", "2s"}, 7},
		{"replayer follow wrong target password", nil, "replayer", []string{"follow", "--store", kafkaLoc,
			"--target", userURI(target.User(), wrongPW.value, target.Addr), "--checkpoint", filepath.Join(work, "follow-2"), "--connect-timeout", "3s"}, 7},
		{"replayer list wrong Kafka password", map[string]string{"TIDELOG_KAFKA_PASSWORD": wrongKafkaPW.value}, "replayer", []string{"list", "--store", kafkaLoc}, -1},
		{"replayer verify wrong S3 secret key", map[string]string{"AWS_SECRET_ACCESS_KEY": wrongS3Key.value, "MINIO_ROOT_PASSWORD": wrongS3Key.value},
			"replayer", []string{"verify", "--store", s3Loc}, -1},
		{"replayer list password in a Kafka location", nil, "replayer", []string{"list", "--store", kafkaLoc + "&password=" + url.QueryEscape(kafkaPW.value)}, 2},
		{"replayer restore malformed encryption key", map[string]string{"TIDELOG_ENCRYPTION_KEY": badKey.value}, "replayer",
			[]string{"restore", "--store", s3Loc, "--target", targetURI, "--to", last.String(), "--drop"}, -1},
	} {
		code, text := runEnv(t, 2*time.Minute, tc.env, tc.binary, tc.args...)
		if tc.code >= 0 && code != tc.code || tc.code < 0 && code == 0 && !strings.Contains(tc.name, "encryption key") {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, tc.code, text)
		}
		if tc.code != 0 && text == "" {
			t.Errorf("%s: exit %d without a word", tc.name, code)
		}
		out.add(tc.name, text)
	}

	out.check(t, secrets)
}
