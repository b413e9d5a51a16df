package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// metricName finds tidelog's series in PromQL.
var metricName = regexp.MustCompile(`\btidelog_[a-z0-9_]+\b`)

func known(name string) bool {
	return slices.Contains(TailerdMetrics, name) || slices.Contains(FollowMetrics, name)
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The rules file's schema, and that every series an expression uses is one
// tailerd or replayer follow exports.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("prometheus/tidelog-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("rules: %v", err)
	}
	if len(rf.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	alerts := map[string]bool{}
	used := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: a rule without alert or expr: %+v", g.Name, r)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q: want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 40 {
				t.Errorf("alert %s: needs a summary and a description saying what to do", r.Alert)
			}
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				used[m] = true
				if !known(m) {
					t.Errorf("alert %s uses %s, which neither tailerd nor replayer follow exports", r.Alert, m)
				}
			}
		}
	}
	for _, want := range []string{"tidelog_capture_lag_seconds", "tidelog_capture_gaps_detected_total", "tidelog_capture_oplog_headroom_seconds",
		"tidelog_capture_store_errors_total", "tidelog_capture_checkpoint_age_seconds", "tidelog_follow_apply_lag_seconds",
		"tidelog_follow_apply_errors_total"} {
		if !used[want] {
			t.Errorf("no alert on %s", want)
		}
	}
	if !alerts["TidelogTailerdDown"] {
		t.Error("no alert for tailerd down")
	}
}

// promtool checks the rules as Prometheus would load them (PromQL syntax,
// templates). scripts/promtool.sh builds it once into ~/.cache/tidelog
// (make test does so before the tests).
func TestPromtoolCheckRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../scripts/promtool.sh").Output()
	if err != nil {
		t.Fatalf("scripts/promtool.sh could not provide promtool: %v", err)
	}
	promtool := strings.TrimSpace(string(out))
	res, err := exec.CommandContext(ctx, promtool, "check", "rules", "prometheus/tidelog-alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, res)
	}
	t.Logf("%s", res)
}

// The dashboard is valid JSON, its panels query only exported series, and it
// shows what an operator watches.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana/tidelog-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion == 0 || len(dash.Panels) == 0 {
		t.Fatalf("dashboard lacks title, uid, schemaVersion or panels")
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		for _, m := range metricName.FindAllString(expr, -1) {
			used[m] = true
			if !known(m) {
				t.Errorf("%s queries %s, which neither tailerd nor replayer follow exports", where, m)
			}
		}
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		check("variable", v.Definition)
	}
	for _, want := range []string{"tidelog_capture_lag_seconds", "tidelog_capture_oplog_headroom_seconds", "tidelog_capture_entries_total",
		"tidelog_capture_bytes_total", "tidelog_capture_store_errors_total", "tidelog_capture_checkpoint_age_seconds", "tidelog_follow_apply_lag_seconds"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// systemd-analyze verify checks the units (keys, values, that ExecStart is
// an executable). The units name /usr/local/bin; the test points them at
// freshly built binaries in a temporary directory.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		// Debian's systemd package has it (the CI image includes it); a
		// skip fails `make test` under CI, so it cannot pass unnoticed.
		t.Skip("systemd-analyze not found (Debian: apt-get install systemd): the units are not verified")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/tailerd", "./cmd/replayer")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	units, err := filepath.Glob("systemd/*.service")
	if err != nil || len(units) < 2 {
		t.Fatalf("units: %v %v", units, err)
	}
	var paths []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, want := range []string{"User=tidelog", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
			"Restart=on-failure", "RestartPreventExitStatus=", "StateDirectory="} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %s", u, want)
			}
		}
		if !strings.Contains(text, "ExecStart=/usr/local/bin/") {
			t.Fatalf("%s: ExecStart is not /usr/local/bin/...", u)
		}
		p := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "/usr/local/bin/", dir+"/")), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	tailerd, _ := os.ReadFile("systemd/tailerd.service")
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=",
		"RestartPreventExitStatus=2 3 5 6"} {
		if !strings.Contains(string(tailerd), want) {
			t.Errorf("tailerd.service lacks %s", want)
		}
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// dockerBuild is the Dockerfile's go build line.
var dockerBuild = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`)

// The Dockerfile's build command builds here too: static binaries of both
// commands (there is no Docker engine to run the whole image build).
func TestDockerfileBuildCommand(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	m := dockerBuild.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no `RUN CGO_ENABLED=0 go build` line in the Dockerfile")
	}
	for _, want := range []string{"FROM gcr.io/distroless/static", "USER nonroot", "EXPOSE 9464", "HEALTHCHECK", "/out/tailerd /out/replayer"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	dir := t.TempDir()
	// As RUN does: through the shell, with the output directory moved here.
	line := strings.ReplaceAll(m[1], "/out/", dir+"/")
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	for _, name := range []string{"tailerd", "replayer"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s not built: %v", name, err)
		}
		// A static binary has no interpreter (PT_INTERP names the dynamic loader).
		if strings.Contains(string(data), "/lib64/ld-linux") {
			t.Errorf("%s is dynamically linked", name)
		}
	}
}
