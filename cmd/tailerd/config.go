package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// fileConfig is the YAML config file; every key has a flag of the same
// meaning, and a flag given on the command line wins over the file.
type fileConfig struct {
	Source         string          `yaml:"source"`
	SourceKind     string          `yaml:"source_kind"`
	Members        []memberConfig  `yaml:"members"`
	DiscoverEvery  time.Duration   `yaml:"discover_every"`
	Store          string          `yaml:"store"`
	Checkpoint     string          `yaml:"checkpoint"`
	PublishTo      []publishConfig `yaml:"publish_to"`
	Spool          string          `yaml:"spool"`
	SpoolMaxBytes  int64           `yaml:"spool_max_bytes"`
	Stream         string          `yaml:"stream"`
	Start          string          `yaml:"start"`
	Cursor         string          `yaml:"cursor"`
	CutBytes       int             `yaml:"cut_bytes"`
	CutAge         time.Duration   `yaml:"cut_age"`
	PollSettle     time.Duration   `yaml:"poll_settle"`
	ConnectTimeout time.Duration   `yaml:"connect_timeout"`
	LogLevel       string          `yaml:"log_level"`
	AcceptGap      bool            `yaml:"accept_gap"`
	HTTPAddr       string          `yaml:"http_addr"`
	// EncryptionKeyFile holds the keys segments and snapshots are
	// encrypted with (docs/encryption.md); the keys themselves are never a
	// setting or a flag.
	EncryptionKeyFile string `yaml:"encryption_key_file"`
	// Backup cycle.
	SnapshotEvery   time.Duration `yaml:"snapshot_every"`
	SnapshotWorkers int           `yaml:"snapshot_workers"`
	KeepSnapshots   int           `yaml:"keep_snapshots"`
	KeepFor         time.Duration `yaml:"keep_for"`
	Prune           bool          `yaml:"prune"`
	IncludeUsers    bool          `yaml:"include_users"`
}

// loadConfigFile reads the YAML config. ${VAR} and ${VAR:-default} in its
// values are replaced from the environment (see expandEnv); warnings are
// for the log, which does not exist yet when the file is first read.
func loadConfigFile(path string) (c fileConfig, warnings []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return c, nil, fmt.Errorf("config %s: %w", path, err)
	}
	if c, err = decodeConfig(data, os.LookupEnv); err != nil {
		return c, nil, fmt.Errorf("config %s: %w", path, err)
	}
	if w := permissionWarning(path, data); w != "" {
		warnings = append(warnings, w)
	}
	return c, warnings, nil
}

// expandNode expands the environment in every scalar value of the tree.
// Expanding values (not the raw text) keeps comments out of it and keeps a
// secret holding ':' or '#' or quotes one value, as written, instead of
// YAML syntax.
func expandNode(n *yaml.Node, lookup func(string) (string, bool), expanded map[string]string) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!binary" {
		v, err := expandEnv(n.Value, lookup)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if v != n.Value {
			expanded[v] = n.Value
			// The value's type is the expanded value's (${CUT_BYTES} may
			// hold a number); the encoder quotes what plain YAML cannot hold.
			n.Value, n.Tag, n.Style = v, "", 0
		}
		return nil
	}
	for _, c := range n.Content {
		if err := expandNode(c, lookup, expanded); err != nil {
			return err
		}
	}
	return nil
}

// hideExpanded rewrites an error about the config so that it shows the
// text the file holds ("${SOURCE_URI}") instead of what a variable expanded
// to: variables are where secrets go, and a value the decoder refuses
// (a URI under the wrong key, say) would otherwise be printed whole.
func hideExpanded(err error, expanded map[string]string) error {
	msg := err.Error()
	for value, raw := range expanded {
		shown := strconv.Quote(raw) + " (variables not expanded here)"
		msg = strings.ReplaceAll(msg, strconv.Quote(value), shown)
		if len(value) >= 4 {
			msg = strings.ReplaceAll(msg, value, shown)
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// expandEnv replaces ${VAR} with the variable's value and ${VAR:-default}
// with the value, or default when the variable is unset or empty; $$ is a
// literal $. An unset variable without a default is an error naming it. A
// $ followed by anything else is kept as it is.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q (write $$ for a literal $)", s[i:])
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, ":-")
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s}: %q is not a variable name (letters, digits and _, not starting with a digit)", expr, name)
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				return "", fmt.Errorf("environment variable %s is not set (referenced as ${%s}; give ${%s:-default} for a default)", name, expr, name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// uriPassword finds a URI with a literal password (user:password@host); a
// password given as ${VAR} comes from the environment, not the file.
var uriPassword = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:'"]*:([^\s/@'"]+)@`)

// permissionWarning says when a config file that others may read holds a
// password in a URI.
func permissionWarning(path string, raw []byte) string {
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm()&0o044 == 0 {
		return ""
	}
	for _, m := range uriPassword.FindAllSubmatch(raw, -1) {
		pw := string(m[1])
		if strings.HasPrefix(pw, "${") && strings.HasSuffix(pw, "}") && strings.Count(pw, "${") == 1 {
			continue
		}
		return fmt.Sprintf("config file %s (mode %s) is readable by group or others and holds a URI with a password: "+
			"chmod 600 it (owned by the user tailerd runs as), or move the password to the environment as ${VAR} (e.g. systemd's EnvironmentFile=)",
			path, info.Mode().Perm())
	}
	return ""
}

// opt names a setting in a message: its flag, and where the value came
// from when that is the config file rather than the command line, so that
// the user knows which line to fix.
func (c config) opt(flagName string) string {
	if c.configPath == "" || c.flagsSet[flagName] {
		return "--" + flagName
	}
	key := strings.ReplaceAll(flagName, "-", "_")
	v := reflect.ValueOf(c.file)
	if i, ok := yamlFields(v.Type())[key]; ok && !v.Field(i).IsZero() {
		return fmt.Sprintf("%s (in config %s)", key, c.configPath)
	}
	return "--" + flagName
}

// checkListenAddr checks a HOST:PORT to listen on without binding it: the
// port a number from 0 (any free port) to 65535.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: want HOST:PORT with PORT a number from 0 to 65535, e.g. 127.0.0.1:9464", addr)
	}
	return nil
}
