package topology

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// helloReply is the part of hello that says what a server is.
type helloReply struct {
	// Msg is "isdbgrid" on a mongos, and only there.
	Msg string `bson:"msg"`
	// SetName is present on replica set members only.
	SetName string `bson:"setName"`
	// Hosts and Passives are the data-bearing members (electable and
	// priority 0) a replica set member knows; arbiters and hidden members
	// are not listed and need not be.
	Hosts    []string `bson:"hosts"`
	Passives []string `bson:"passives"`
	// ConfigSvr is 2 on a config server member (mongod appends it when its
	// cluster role is configsvr) and absent elsewhere. FerretDB never sends it.
	ConfigSvr int `bson:"configsvr"`
}

// members is the replica set h describes, as a host string would list it.
func (h helloReply) members() (HostString, error) {
	hosts := append(append([]string{}, h.Hosts...), h.Passives...)
	if h.SetName == "" || len(hosts) == 0 {
		return HostString{}, fmt.Errorf("hello names no replica set (setName %q, hosts %v)", h.SetName, hosts)
	}
	return ParseHostString(HostString{SetName: h.SetName, Hosts: hosts}.String())
}

func runHello(ctx context.Context, client *mongo.Client) (helloReply, error) {
	var h helloReply
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&h); err != nil {
		return helloReply{}, fmt.Errorf("hello: %w", err)
	}
	return h, nil
}

// isFerretDB reports whether the server says it is FerretDB in buildInfo,
// as tailer and snapshot tell it. A failed buildInfo counts as MongoDB: the
// answer only decides whether to infer what MongoDB would have said.
func isFerretDB(ctx context.Context, client *mongo.Client) bool {
	var info bson.Raw
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false
	}
	_, err := info.LookupErr("ferretdbVersion")
	return err == nil
}
