package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
)

// The target's password can come from TIDELOG_TARGET_PASSWORD, so it is
// not on the command line; against a FerretDB that checks it.
func TestTargetPasswordFromEnvironment(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true, Auth: true})
	u, err := url.Parse(srv.URI)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(srv.User())
	userOnly := u.String()
	ctx := context.Background()

	t.Setenv(targetPasswordEnv, srv.Password())
	cl, err := connectTarget(ctx, userOnly, 10*time.Second)
	if err != nil {
		t.Fatalf("user in the URI, password from %s: %v", targetPasswordEnv, err)
	}
	cl.Disconnect(ctx)

	t.Setenv(targetPasswordEnv, "not-the-password")
	if cl, err := connectTarget(ctx, userOnly, 10*time.Second); err == nil {
		cl.Disconnect(ctx)
		t.Fatal("a wrong password from the environment was accepted")
	} else if exitCode(err) != exitTarget || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("wrong password: %v (exit %d); want exit %d, without the password", err, exitCode(err), exitTarget)
	}

	t.Setenv(targetPasswordEnv, srv.Password())
	for uri, says := range map[string]string{
		srv.URI: "give the password one way",
		"mongodb://" + u.Host + "/?directConnection=true": "names no user",
	} {
		_, err := connectTarget(ctx, uri, 10*time.Second)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), says) || strings.Contains(err.Error(), srv.Password()) {
			t.Errorf("%s set with %s: %v (exit %d); want exit 2 saying %q", targetPasswordEnv, uri, err, exitCode(err), says)
		}
	}
}
