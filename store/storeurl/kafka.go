package storeurl

import (
	"net"
	"strconv"
	"strings"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/kafkastore"
)

// parseKafka reads kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?...]:
// the seed brokers as the host list (as Kafka clients write
// bootstrap.servers) and the topic prefix as the path; TLS and SASL
// settings are parameters (see parseKafkaSecurity).
func parseKafka(raw string, u parts) (Location, error) {
	var cfg kafkastore.Config
	if u.authority == "" {
		return Location{}, invalid(raw, "no brokers: want kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX]")
	}
	for _, b := range strings.Split(u.authority, ",") {
		host, port, err := net.SplitHostPort(b)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return Location{}, invalid(raw, "broker %q: want HOST:PORT", b)
		}
		cfg.Brokers = append(cfg.Brokers, b)
	}
	cfg.TopicPrefix = strings.TrimSuffix(u.path, "/")
	switch {
	case cfg.TopicPrefix == "":
		cfg.TopicPrefix = kafkastore.DefaultTopicPrefix
	case !validTopicPrefix(cfg.TopicPrefix):
		return Location{}, invalid(raw, "topic prefix %q: want letters, digits, '_' and '-' (no '/', and no '.', which separates the prefix from the stream)", cfg.TopicPrefix)
	}
	rf, err := u.query.integer("replication_factor", 1, 32767)
	if err != nil {
		return Location{}, err
	}
	cfg.ReplicationFactor = int16(rf)
	mir, err := u.query.integer("min_insync_replicas", 1, 32767)
	if err != nil {
		return Location{}, err
	}
	cfg.MinInsyncReplicas = int(mir)
	mmb, err := u.query.integer("max_message_bytes", 4096, 1<<30)
	if err != nil {
		return Location{}, err
	}
	cfg.MaxMessageBytes = int(mmb)
	cfg.ClientID, _ = u.query.str("client_id")
	if cfg.TLS, cfg.SASL, err = parseKafkaSecurity(raw, u.query); err != nil {
		return Location{}, err
	}
	if err := u.query.done("kafka"); err != nil {
		return Location{}, err
	}
	return Location{Kind: Kafka, Kafka: cfg}, nil
}

// validTopicPrefix: a Kafka topic name's characters without '.', which
// separates the prefix from the stream (kafkastore checks the same); the
// store checks the length against the names it makes.
func validTopicPrefix(p string) bool {
	return store.PlainName(p) && !strings.Contains(p, ".")
}
