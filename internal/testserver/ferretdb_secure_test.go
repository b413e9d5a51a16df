package testserver

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// pingURI connects with uri and pings, within a few seconds.
func pingURI(t *testing.T, uri string) error {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(3 * time.Second))
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Ping(ctx, nil)
}

// A TLS server speaks TLS only, with a certificate of its own PKI, and
// wants a client certificate of that PKI; its URI carries all it takes.
// Authentication works too, and the oplog is kept as without TLS.
func TestStartTLSWithAuth(t *testing.T) {
	s := StartT(t, Options{TLS: true, Auth: true})
	if s.PKI == nil || !strings.Contains(s.URI, "tls=true") || !strings.Contains(s.URI, url.UserPassword(AuthUser, AuthPassword).String()+"@") {
		t.Fatalf("URI %s, PKI %v", s.URI, s.PKI)
	}
	ctx := context.Background()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	if _, err := c.Database("d").Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LastTS(ctx, c); err != nil {
		t.Fatal(err)
	}

	userinfo := url.UserPassword(AuthUser, AuthPassword).String() + "@"
	plain := strings.Replace(strings.Split(s.URI, "&tls=")[0], userinfo, "", 1)
	noCert := strings.Split(s.URI, "&tlsCertificateKeyFile=")[0]
	other := NewPKIT(t)
	wrongCA := strings.Replace(s.URI, url.QueryEscape(s.PKI.CAFile), url.QueryEscape(other.CAFile), 1)
	wrongPassword := strings.Replace(s.URI, userinfo, url.UserPassword(AuthUser, "not-the-password").String()+"@", 1)
	for _, tc := range []struct{ name, uri, want string }{
		{"PlainClient", plain, "connection closed"},
		{"NoClientCertificate", noCert, "certificate"},
		{"UnknownCA", wrongCA, "unknown authority"},
		{"WrongPassword", wrongPassword, "AuthenticationFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pingURI(t, tc.uri)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ping: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
