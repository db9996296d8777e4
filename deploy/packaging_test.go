// Package deploy holds no Go code, only the tests of what is here (the Kubernetes
// manifests, the systemd unit) and of the Dockerfile and the deployment guide around
// it: each checked against the configuration and the binary mfabot really has.
package deploy

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/cmd/mfabot/doctor"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/storage"
)

// repoRoot is where the Dockerfile, deploy/ and docs/ are, seen from this package.
const repoRoot = ".."

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// settingsByEnv are mfabot's settings by environment variable.
func settingsByEnv() map[string]config.Setting {
	out := map[string]config.Setting{}
	for _, s := range config.Settings() {
		out[s.Env] = s
	}
	return out
}

// Values the packaging tests pass as the Dockerfile's build arguments.
var dockerArgs = map[string]string{"VERSION": "1.2.3", "COMMIT": "abc1234", "DATE": "2026-11-22T09:00:00Z"}

// dockerBuild is the Dockerfile's go build command, parsed.
type dockerBuild struct {
	env  []string // CGO_ENABLED=1
	args []string // after "go build", with the build arguments substituted
	out  string   // the -o value
	pkg  string
}

// dockerfile returns the Dockerfile's instructions, continuation lines joined and
// comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		out = append(out, strings.TrimSpace(cur+trimmed))
		cur = ""
	}
	return out
}

// shellWords splits a command line as sh would for the simple quoting the Dockerfile uses.
func shellWords(s string) []string {
	var words []string
	var b strings.Builder
	in, quote, started := false, byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote, started = c, true
		case c == ' ' || c == '\t':
			if in || started {
				words = append(words, b.String())
				b.Reset()
			}
			in, started = false, false
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in || started {
		words = append(words, b.String())
	}
	return words
}

// parseDockerBuild finds the RUN … go build instruction and substitutes the ARGs it uses.
func parseDockerBuild(t *testing.T) dockerBuild {
	t.Helper()
	args := map[string]bool{}
	var run string
	for _, ins := range dockerfile(t) {
		if name, ok := strings.CutPrefix(ins, "ARG "); ok {
			name, _, _ = strings.Cut(name, "=")
			args[name] = true
		}
		if strings.HasPrefix(ins, "RUN ") && strings.Contains(ins, " go build ") {
			if run != "" {
				t.Fatal("the Dockerfile has more than one go build")
			}
			run = strings.TrimPrefix(ins, "RUN ")
		}
	}
	if run == "" {
		t.Fatal("the Dockerfile has no RUN … go build")
	}
	var b dockerBuild
	words := shellWords(run)
	for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
		words = words[1:]
	}
	for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
		b.env, words = append(b.env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("RUN %s: not a go build command", run)
	}
	varRef := regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)
	for _, w := range words[2:] {
		w = varRef.ReplaceAllStringFunc(w, func(ref string) string {
			name := strings.Trim(ref, "${}")
			v, ok := dockerArgs[name]
			if !ok || !args[name] {
				t.Fatalf("the build line uses $%s, which is not an ARG the test knows", name)
			}
			return v
		})
		b.args = append(b.args, w)
	}
	for i, a := range b.args {
		if a == "-o" && i+1 < len(b.args) {
			b.out = b.args[i+1]
		}
	}
	b.pkg = b.args[len(b.args)-1]
	return b
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds mfabot once per test run with the Dockerfile's go build line: its
// environment, flags and ldflags (build arguments substituted from dockerArgs), except
// -trimpath. -trimpath changes every package's build ID, so it would recompile all of
// msgraph-sdk-go outside the build cache (minutes on a cold machine); it only affects
// the file paths recorded in the binary, and TestDockerfile checks it is on the line.
func binary(t *testing.T) string {
	t.Helper()
	b := parseDockerBuild(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mfabot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "mfabot")
		var args []string
		for i := 0; i < len(b.args); i++ {
			switch b.args[i] {
			case "-trimpath":
			case "-o":
				args = append(args, "-o", builtBin)
				i++
			default:
				args = append(args, b.args[i])
			}
		}
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestDockerfile builds mfabot as the Dockerfile does and runs what the image runs.
// Docker itself is not available to the tests.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: builds the binary")
	}
	b := parseDockerBuild(t)
	if !slices.Contains(b.env, "CGO_ENABLED=1") {
		t.Errorf("the build runs with %v: mattn/go-sqlite3 needs CGO_ENABLED=1", b.env)
	}
	for _, flag := range []string{"-trimpath", "-ldflags"} {
		if !slices.Contains(b.args, flag) {
			t.Errorf("the go build line lacks %s", flag)
		}
	}
	if b.pkg != "./cmd/mfabot" {
		t.Errorf("the Dockerfile builds %q", b.pkg)
	}

	bin := binary(t)
	out, err := exec.Command(bin, "version").Output()
	if want := "mfabot 1.2.3 (commit abc1234, built 2026-11-22T09:00:00Z)"; err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("version: %q %v, want %q", out, err, want)
	}
	// The binary records how it was built: the very ldflags and cgo of the Dockerfile.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	ldflags := b.args[slices.Index(b.args, "-ldflags")+1]
	if settings["-ldflags"] != ldflags || settings["CGO_ENABLED"] != "1" {
		t.Errorf("built with -ldflags %q CGO_ENABLED=%s; the Dockerfile says %q and 1", settings["-ldflags"], settings["CGO_ENABLED"], ldflags)
	}
	out, err = exec.Command(bin, "config", "example").Output()
	if err != nil || !strings.Contains(string(out), "MFABOT_SLACK_BOT_TOKEN") {
		t.Errorf("config example: %v", err)
	}
	if err := exec.Command(bin, "no-such-command").Run(); err == nil {
		t.Error("an unknown command exited 0")
	}
}

// TestDockerfileRuntime checks the runtime stage against what mfabot expects: the user
// the Kubernetes manifests run as, the database on the volume, the port it listens on,
// and a config file that loads when nothing is mounted over it.
func TestDockerfileRuntime(t *testing.T) {
	t.Parallel()
	ins := dockerfile(t)
	var from []string
	for _, i := range ins {
		if f, ok := strings.CutPrefix(i, "FROM "); ok {
			from = append(from, f)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if len(from) != 2 || !strings.HasPrefix(from[0], "golang:"+string(goVersion[1])+"-bookworm ") || from[1] != "debian:bookworm-slim" {
		t.Errorf("stages %q: want golang:%s-bookworm, then debian:bookworm-slim (the same glibc)", from, goVersion[1])
	}
	listen := settingsByEnv()["MFABOT_LISTEN"].Default
	for _, want := range []string{
		"USER 10001:10001", "VOLUME /var/lib/mfabot", "EXPOSE " + strings.TrimPrefix(listen, ":"), "STOPSIGNAL SIGTERM",
		`ENTRYPOINT ["mfabot"]`, `CMD ["serve", "--config", "/etc/mfabot/mfabot.yaml"]`,
	} {
		if !slices.Contains(ins, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	env := ""
	for _, i := range ins {
		if e, ok := strings.CutPrefix(i, "ENV "); ok {
			env += " " + e
		}
	}
	if !strings.Contains(env, "MFABOT_DB=/var/lib/mfabot/mfabot.db") {
		t.Errorf("ENV%s: the database must be on the volume", env)
	}
	placeholder := regexp.MustCompile(`printf '([^']*)' > /etc/mfabot/mfabot.yaml`).FindStringSubmatch(strings.Join(ins, "\n"))
	if placeholder == nil {
		t.Fatal("the image has no /etc/mfabot/mfabot.yaml for CMD to load when none is mounted")
	}
	path := writeFile(t, "mfabot.yaml", strings.ReplaceAll(placeholder[1], `\n`, "\n"))
	if _, err := config.Load(path, envOf(nil)); err != nil {
		t.Errorf("the image's placeholder mfabot.yaml does not load: %v", err)
	}
}

// dockerignore reports whether the .dockerignore patterns leave path (slash-separated,
// relative to the context) out of the build context, with Docker's rules: the last
// matching pattern wins, "!" re-includes, "**" spans directories, and a pattern that
// matches a directory leaves out everything in it.
func dockerignore(patterns []string, path string) bool {
	excluded := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("(/.*)?$")
		if regexp.MustCompile(re.String()).MatchString(path) {
			excluded = !neg
		}
	}
	return excluded
}

// TestDockerignore: every file `go build ./cmd/mfabot` reads from this module (Go and cgo
// sources, embedded files, go.mod, go.sum) is in the build context, and the big or
// private things (the repository, a local binary, databases) are not.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,Module,GoFiles,CgoFiles,CFiles,HFiles,EmbedFiles", "./cmd/mfabot")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Dir                               string
			Module                                        *struct{ Path string }
			GoFiles, CgoFiles, CFiles, HFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/mfabot/mfabot" {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.CFiles, p.HFiles, p.EmbedFiles) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 20 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, f := range needed {
		if dockerignore(patterns, f) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/config", "mfabot", "mfabot.db", "x/y.db-wal", "mfabot-teams.zip", "bot/slack/testdata/pending.golden.json"} {
		if !dockerignore(patterns, f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

// k8sObject is what the manifest tests read of a Kubernetes object.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
	Resources  []string          `yaml:"resources"` // Kustomization
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector yaml.Node `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			Name       string `yaml:"name"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    int   `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	Containers                    []struct {
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		EnvFrom []struct {
			SecretRef struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Env []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		LivenessProbe   probe `yaml:"livenessProbe"`
		ReadinessProbe  probe `yaml:"readinessProbe"`
		SecurityContext struct {
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// TestKubernetesManifests parses every file in deploy/kubernetes and checks that they fit
// together and fit mfabot: the variables they set are ones mfabot reads (the Secret's
// being secrets), the ConfigMap holds a loadable mfabot.yaml without a secret in it and,
// with the Secret's variables, a valid configuration; one pod, replaced with Recreate,
// non-root with a read-only root file system, probes on /healthz and /readyz, the
// database on the claimed volume.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	settings := settingsByEnv()
	files, err := filepath.Glob(filepath.Join(repoRoot, "deploy/kubernetes/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	objs := map[string]k8sObject{}
	var resources, names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o k8sObject
			if err := dec.Decode(&o); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Metadata.Namespace != "" {
				t.Errorf("%s sets namespace %q: the manifests are namespace-less", f, o.Metadata.Namespace)
			}
			if o.Kind == "Kustomization" {
				resources = o.Resources
				continue
			}
			names = append(names, filepath.Base(f))
			if _, dup := objs[o.Kind]; dup {
				t.Errorf("two %s objects", o.Kind)
			}
			objs[o.Kind] = o
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(resources))); diff != "" {
		t.Errorf("kustomization.yaml resources vs the files (-files +resources):\n%s", diff)
	}
	kinds := slices.Sorted(maps.Keys(objs))
	if diff := cmp.Diff([]string{"ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service"}, kinds); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	secret, cm, dep, pvc, svc := objs["Secret"], objs["ConfigMap"], objs["Deployment"], objs["PersistentVolumeClaim"], objs["Service"]

	for k := range secret.StringData {
		if s, ok := settings[k]; !ok || !s.Secret {
			t.Errorf("the Secret sets %s, which is not a secret mfabot reads", k)
		}
	}
	for _, k := range []string{"AZURE_CLIENT_SECRET", "MFABOT_SLACK_BOT_TOKEN", "MFABOT_SLACK_SIGNING_SECRET", "MFABOT_TEAMS_APP_PASSWORD"} {
		if _, ok := secret.StringData[k]; !ok {
			t.Errorf("the Secret has no placeholder for %s", k)
		}
	}
	yml, ok := cm.Data["mfabot.yaml"]
	if !ok {
		t.Fatal("the ConfigMap has no mfabot.yaml")
	}
	for k, v := range secret.StringData {
		if strings.Contains(yml, v) || strings.Contains(yml, k) {
			t.Errorf("the ConfigMap holds the secret %s", k)
		}
	}
	for _, s := range config.Settings() {
		if s.Secret && strings.Contains(yml, strings.Split(s.Key, ".")[1]) {
			t.Errorf("the ConfigMap's mfabot.yaml mentions the secret %s", s.Key)
		}
	}
	cfgPath := writeFile(t, "mfabot.yaml", yml)
	cfg, err := config.Load(cfgPath, envOf(secret.StringData))
	if err != nil {
		t.Fatalf("the ConfigMap's mfabot.yaml does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the ConfigMap with the Secret's variables is not a valid configuration:\n%v", err)
	}

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		replicas := "unset"
		if dep.Spec.Replicas != nil {
			replicas = strconv.Itoa(*dep.Spec.Replicas)
		}
		t.Errorf("replicas %s, strategy %q: SQLite needs exactly one pod, replaced with Recreate", replicas, dep.Spec.Strategy.Type)
	}
	pod := dep.Spec.Template.Spec
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != 10001 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and the image's uid 10001", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v: want a read-only root and no privilege escalation", c.SecurityContext)
	}
	if diff := cmp.Diff([]string{"serve", "--config", "/etc/mfabot/mfabot.yaml"}, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || ":"+strconv.Itoa(c.Ports[0].ContainerPort) != cfg.Listen {
		t.Errorf("ports %+v, listen %q", c.Ports, cfg.Listen)
	}
	port := c.Ports[0].Name
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
		c.LivenessProbe.HTTPGet.Port != port || c.ReadinessProbe.HTTPGet.Port != port {
		t.Errorf("probes: liveness %+v, readiness %+v; want /healthz and /readyz on %s", c.LivenessProbe, c.ReadinessProbe, port)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != secret.Metadata.Name {
		t.Errorf("envFrom %+v: want the Secret %s", c.EnvFrom, secret.Metadata.Name)
	}
	grace := cfg.ShutdownGrace
	for _, e := range c.Env {
		s, ok := settings[e.Name]
		switch {
		case !ok:
			t.Errorf("the Deployment sets %s, which mfabot does not read", e.Name)
		case s.Secret:
			t.Errorf("the Deployment sets the secret %s in plain text", e.Name)
		}
		if e.Name == "MFABOT_SHUTDOWN_GRACE" {
			if grace, err = time.ParseDuration(e.Value); err != nil {
				t.Error(err)
			}
		}
	}
	if time.Duration(pod.TerminationGracePeriodSeconds)*time.Second <= grace {
		t.Errorf("terminationGracePeriodSeconds %d is not longer than shutdown_grace %s", pod.TerminationGracePeriodSeconds, grace)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumes := map[string]string{}
	for _, v := range pod.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			volumes[v.Name] = "pvc:" + v.PersistentVolumeClaim.ClaimName
		case v.ConfigMap != nil:
			volumes[v.Name] = "configmap:" + v.ConfigMap.Name
		case v.EmptyDir != nil:
			volumes[v.Name] = "emptydir"
		}
	}
	if got := volumes[mounts["/var/lib/mfabot"]]; got != "pvc:"+pvc.Metadata.Name {
		t.Errorf("/var/lib/mfabot is %q, want the claim %s", got, pvc.Metadata.Name)
	}
	if !strings.HasPrefix(cfg.DB, "/var/lib/mfabot/") {
		t.Errorf("db %q is not on the volume", cfg.DB)
	}
	if got := volumes[mounts["/etc/mfabot"]]; got != "configmap:"+cm.Metadata.Name {
		t.Errorf("/etc/mfabot is %q, want the ConfigMap %s", got, cm.Metadata.Name)
	}
	if volumes[mounts["/tmp"]] != "emptydir" {
		t.Error("no writable /tmp under the read-only root (mfabot doctor needs one)")
	}

	var selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := dep.Spec.Selector.Decode(&selector); err != nil {
		t.Fatal(err)
	}
	if len(selector.MatchLabels) == 0 || !isSubset(selector.MatchLabels, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", selector.MatchLabels, dep.Spec.Template.Metadata.Labels)
	}
	var svcSelector map[string]string
	if err := svc.Spec.Selector.Decode(&svcSelector); err != nil {
		t.Fatal(err)
	}
	if len(svcSelector) == 0 || !isSubset(svcSelector, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("the Service's selector %v does not select mfabot's pods", svcSelector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != port {
		t.Errorf("the Service's ports %+v do not target %s", svc.Spec.Ports, port)
	}
}

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// systemdUnit reads a unit file into section → key → values (keys may repeat).
func systemdUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]map[string][]string{}
	section := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", path, l)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	return unit
}

// TestSystemdUnit checks the hardened unit against mfabot: it serves the documented
// config, keeps the database in its StateDirectory, reads secrets from a root-only file,
// sets only variables mfabot knows, and waits longer than shutdown_grace on stop. Where
// systemd-analyze exists, systemd itself must accept every line.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(repoRoot, "deploy/systemd/mfabot.service")
	svc := systemdUnit(t, path)["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("%s= appears %d times", k, len(svc[k]))
			return ""
		}
		return svc[k][0]
	}
	for k, want := range map[string]string{
		"ExecStart": "/usr/local/bin/mfabot serve --config /etc/mfabot/mfabot.yaml", "EnvironmentFile": "/etc/mfabot/secrets.env",
		"StateDirectory": "mfabot", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "Restart": "on-failure",
		"KillSignal": "SIGTERM", "DynamicUser": "yes", "User": "mfabot",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	known := settingsByEnv()
	cfg, err := config.Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	grace := cfg.ShutdownGrace
	for _, e := range svc["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(kv, "=")
			s, ok := known[k]
			switch {
			case !ok:
				t.Errorf("Environment=%s: mfabot does not read %s", kv, k)
			case s.Secret:
				t.Errorf("Environment=%s: secrets belong in the EnvironmentFile", k)
			case k == "MFABOT_DB" && !strings.HasPrefix(v, "/var/lib/mfabot/"):
				t.Errorf("MFABOT_DB=%s is outside the StateDirectory", v)
			case k == "MFABOT_SHUTDOWN_GRACE":
				grace, _ = time.ParseDuration(v)
			}
		}
	}
	stop, err := time.ParseDuration(one("TimeoutStopSec") + "s")
	if err != nil || stop <= grace {
		t.Errorf("TimeoutStopSec=%s is not longer than shutdown_grace %s", one("TimeoutStopSec"), grace)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("exec.LookPath found no systemd-analyze: the unit's syntax is not checked by systemd")
		return
	}
	// verify wants ExecStart to exist: point it at this test binary.
	data, _ := os.ReadFile(path)
	self, _ := os.Executable()
	copyPath := filepath.Join(t.TempDir(), "mfabot.service")
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(data, []byte("/usr/local/bin/mfabot"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDeploymentGuide keeps docs/deployment.md true: it lists exactly the Graph permissions
// mfabot needs, every metric mfabot exports and no other, every doctor check name, and
// its relative links lead to files that exist.
func TestDeploymentGuide(t *testing.T) {
	t.Parallel()
	docPath := filepath.Join(repoRoot, "docs/deployment.md")
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)

	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Za-z]*(?:\\.[A-Z][A-Za-z]*)+)`").FindAllStringSubmatch(doc, -1) {
		documented = append(documented, m[1])
	}
	var required []string
	for _, p := range graph.RequiredPermissions {
		required = append(required, p.Name)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(required)), slices.Sorted(slices.Values(documented))); diff != "" {
		t.Errorf("permission table vs graph.RequiredPermissions (-code +docs):\n%s", diff)
	}

	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd/mfabot/metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	metricName := regexp.MustCompile(`mfabot_[a-z_]+`)
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(mfabot_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		exported[m[1]] = true
	}
	inDoc := map[string]bool{}
	for _, m := range metricName.FindAllString(doc, -1) {
		inDoc[m] = true
		if !exported[m] {
			t.Errorf("docs/deployment.md names the metric %s, which metrics.go does not export", m)
		}
	}
	for m := range exported {
		if !inDoc[m] {
			t.Errorf("docs/deployment.md does not document the metric %s", m)
		}
	}

	for _, name := range []string{doctor.CheckConfig, storage.CheckDatabase, storage.CheckAudit, graph.CheckToken, graph.CheckPermissions,
		graph.CheckLicence, graph.CheckPolicyGroups, slack.CheckToken, slack.CheckScopes, slack.CheckChannel, slack.CheckSigningSecret,
		slack.CheckAppToken, teams.CheckToken, teams.CheckOpenID, teams.CheckChannel} {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/deployment.md does not document the doctor check %s", name)
		}
	}

	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(doc, -1) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(docPath), m[1])); err != nil {
			t.Errorf("docs/deployment.md links to %s: %v", m[1], err)
		}
	}
}
