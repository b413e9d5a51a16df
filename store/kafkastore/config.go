package kafkastore

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Config.
const (
	// DefaultTopicPrefix begins every topic of the store.
	DefaultTopicPrefix = "tidelog"
	// DefaultMaxMessageBytes keeps a frame's batch under Kafka's default
	// message.max.bytes (1,048,588) with room to spare, the same bound
	// franz-go uses for batches by default.
	DefaultMaxMessageBytes = 1_000_000
	// DefaultClientID names the store's connections in broker logs.
	DefaultClientID = "tidelog"
)

// minMessageBytes leaves a frame at least a few KiB of payload after its
// headers; anything smaller would split every object into absurdly many
// frames.
const minMessageBytes = 4096

// Config says where the store lives. The zero value of every field but
// Brokers means its default.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TopicPrefix begins every topic of the store: stream S lives in topic
	// "<TopicPrefix>.S". Letters, digits, '.', '_' and '-'.
	TopicPrefix string
	// ReplicationFactor of the topics the store creates; 0 means the
	// broker's default.replication.factor. Use 3 (and min.insync.replicas
	// 2) in production: acks=all is only as strong as the in-sync set.
	ReplicationFactor int16
	// MinInsyncReplicas, when above 0, is set as min.insync.replicas on the
	// topics the store creates.
	MinInsyncReplicas int
	// MaxMessageBytes bounds one produced batch and so one frame, headers
	// included. It must not exceed the topics' max.message.bytes (broker
	// message.max.bytes by default); a frame above it is refused by Kafka
	// with MESSAGE_TOO_LARGE and the put fails.
	MaxMessageBytes int
	// ClientID names the store's connections.
	ClientID string
	// TLS, if set, makes every connection TLS.
	TLS *TLS
	// SASL, if set, authenticates every connection.
	SASL *SASL
	// Opts are passed to every franz-go client the store makes, after its
	// own connection, TLS and SASL settings: the place for a dialer or a
	// logger. They must not change producing or consuming: the store sets
	// acks, idempotence, partitioning and offsets itself, after these.
	Opts []kgo.Opt
}

// withDefaults returns c with defaults filled in, or an error naming what is
// wrong with it.
func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("kafka store: no brokers configured")
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if err := validTopicPrefix(c.TopicPrefix); err != nil {
		return c, fmt.Errorf("kafka store: %w", err)
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxMessageBytes < minMessageBytes || c.MaxMessageBytes > 1<<30 {
		return c, fmt.Errorf("kafka store: MaxMessageBytes %d out of range [%d, %d]", c.MaxMessageBytes, minMessageBytes, 1<<30)
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1 // the broker's default (Kafka 2.4+)
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	return c, nil
}

// String names the store by its brokers and topic prefix. Broker addresses
// carry no secrets; SASL holds where the password is, not the password,
// and Opts are never printed.
func (c Config) String() string {
	return "kafka:" + strings.Join(c.Brokers, ",") + "/" + c.TopicPrefix
}
