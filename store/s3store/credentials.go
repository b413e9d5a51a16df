package s3store

import "github.com/minio/minio-go/v7/pkg/credentials"

// newCredentials returns the static keys of c, or the standard chain (see
// Config.AccessKey). The chain is consulted lazily, at the first request, and
// again when temporary credentials expire; the instance role comes last so
// that a machine with keys in its environment or files never asks the
// metadata service.
func newCredentials(c Config) *credentials.Credentials {
	if c.AccessKey != "" {
		return credentials.NewStaticV4(c.AccessKey, c.SecretKey.Reveal(), c.SessionToken.Reveal())
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.EnvMinio{},
		&credentials.FileAWSCredentials{},
		&credentials.FileMinioClient{},
		&credentials.IAM{},
	})
}
