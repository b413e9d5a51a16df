package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// postgres is a private PostgreSQL cluster backing one FerretDB server with
// --handler=postgresql, whose updates and deletes by _id use the index
// (the SQLite backend scans the collection). Debian's postgresql package
// provides initdb and pg_ctl; PostgreSQL refuses to run as root, so the
// cluster runs as the package's postgres user.
type postgres struct {
	dir  string
	port int
}

func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install Debian's postgresql package (apt-get install postgresql)", name)
}

// asPostgres runs a PostgreSQL tool as the postgres user when we are root.
func asPostgres(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

func startPostgres(ctx context.Context) (*postgres, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return nil, err
	}
	pgctl, err := pgBin("pg_ctl")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tidelog-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres user: %w (install Debian's postgresql package)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres(ctx, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", port, dir)
	if out, err := asPostgres(ctx, pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	pg := &postgres{dir: dir, port: port}
	psql, err := pgBin("psql")
	if err == nil {
		out, err := exec.CommandContext(ctx, psql, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-c", "CREATE DATABASE ferretdb").CombinedOutput()
		if err != nil {
			pg.stop()
			return nil, fmt.Errorf("create database: %w\n%s", err, out)
		}
	}
	return pg, nil
}

func (p *postgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/ferretdb", p.port)
}

func (p *postgres) stop() {
	if pgctl, err := pgBin("pg_ctl"); err == nil {
		asPostgres(context.Background(), pgctl, "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "stop").Run()
	}
	os.RemoveAll(p.dir)
}
