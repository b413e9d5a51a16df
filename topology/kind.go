package topology

import (
	"errors"
	"fmt"
)

// Kind is what a seed URI points at, which decides where the replica sets
// are read from.
type Kind string

const (
	// KindAuto lets hello decide (the default).
	KindAuto Kind = ""
	// KindMongos is a router: shards from config.shards through it, the
	// config server from getShardMap or serverStatus.
	KindMongos Kind = "mongos"
	// KindConfigServer is a config server replica set member: shards from
	// its config.shards, the config server from its own hello.
	KindConfigServer Kind = "configsvr"
	// KindReplicaSet is a replica set followed alone, config.shards or not.
	KindReplicaSet Kind = "replset"
	// KindStatic is a list given by hand (Static); never a seed's kind.
	KindStatic Kind = "static"
)

// classify decides what the server that sent h is. assume is the
// operator's word (Options.Assume); it may settle what hello cannot say but
// never turns a mongos or a real config server into something else. inferConfig is asked only for a
// replica set member that does not report configsvr; it says whether the
// member should be taken for a config server anyway (a server that cannot
// report configsvr, holding shards in config.shards).
func classify(h helloReply, assume Kind, inferConfig func() (bool, error)) (Kind, error) {
	mongos := h.Msg == "isdbgrid"
	switch assume {
	case KindAuto:
	case KindMongos:
		// Taken as said even from a replica set member: the router's reads
		// (config.shards, getShardMap, serverStatus) are ones a member
		// answers too, which lets tests run them against a stand-in.
		return KindMongos, nil
	case KindConfigServer, KindReplicaSet:
		if mongos {
			return "", fmt.Errorf("told the seed is a %s member, but hello says it is a mongos", assume)
		}
		if h.SetName == "" {
			return "", fmt.Errorf("told the seed is a %s member, but it is not a replica set member (no setName in hello)", assume)
		}
		if assume == KindReplicaSet && h.ConfigSvr > 0 {
			return "", fmt.Errorf("told the seed is a plain replica set, but %s is a config server: leave Assume unset to follow the cluster", h.SetName)
		}
		return assume, nil
	default:
		return "", fmt.Errorf("unknown Assume %q: want %q, %q, %q or empty", assume, KindMongos, KindConfigServer, KindReplicaSet)
	}
	switch {
	case mongos:
		return KindMongos, nil
	case h.SetName == "":
		return "", errors.New("the seed is a standalone server, not a replica set member or mongos: it keeps no oplog, so it cannot be backed up to a point in time")
	case h.ConfigSvr > 0:
		return KindConfigServer, nil
	}
	isConfig, err := inferConfig()
	if err != nil {
		return "", err
	}
	if isConfig {
		return KindConfigServer, nil
	}
	return KindReplicaSet, nil
}
