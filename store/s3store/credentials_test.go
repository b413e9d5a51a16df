package s3store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidelog/tidelog/internal/testserver"
)

// clearCredentialEnv empties every variable the chain reads, and points
// HOME at an empty directory, so that only what a test sets is found. The
// chain then never reaches the instance-role lookup, which would leave the
// machine.
func clearCredentialEnv(t *testing.T) {
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
		"MINIO_SHARED_CREDENTIALS_FILE", "MINIO_ALIAS",
	} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", t.TempDir())
}

// Without static keys the chain finds them in the environment or in
// ~/.aws/credentials.
func TestCredentialChain(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	bucket := newBucket(t, m)
	chainConfig := func() Config {
		cfg := config(m, bucket)
		cfg.AccessKey, cfg.SecretKey = "", ""
		return cfg
	}

	t.Run("EnvAWS", func(t *testing.T) {
		clearCredentialEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey())
		t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey())
		openStore(t, chainConfig())
	})
	t.Run("EnvMinIO", func(t *testing.T) {
		clearCredentialEnv(t)
		t.Setenv("MINIO_ROOT_USER", m.AccessKey())
		t.Setenv("MINIO_ROOT_PASSWORD", m.SecretKey())
		openStore(t, chainConfig())
	})
	t.Run("AWSCredentialsFile", func(t *testing.T) {
		clearCredentialEnv(t)
		dir := filepath.Join(os.Getenv("HOME"), ".aws")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		content := "[default]\naws_access_key_id = " + m.AccessKey() + "\naws_secret_access_key = " + m.SecretKey() + "\n"
		if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		openStore(t, chainConfig())
	})
	t.Run("WrongFromEnv", func(t *testing.T) {
		clearCredentialEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey())
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-password")
		if _, err := Open(context.Background(), chainConfig()); err == nil {
			t.Fatal("Open with a wrong secret from the environment succeeded")
		}
	})
}
