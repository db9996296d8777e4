// Package helm holds no Go code, only the tests of the Helm chart in mfabot/: rendered
// with Helm's own library, for the default values and the PostgreSQL HA example, and
// checked against the settings mfabot documents in its README. It is a Go module of
// its own so that mfabot's module does not depend on Helm or Kubernetes.
package helm

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

const (
	chartDir   = "mfabot"
	haValues   = "mfabot/examples/postgres-ha.yaml"
	readmePath = "../../README.md"
	release    = "mfabot"
	namespace  = "mfabot"
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	return c
}

func valuesFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// render renders the chart as `helm template` would, with vals over values.yaml.
func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	c := loadChart(t)
	rv, err := util.ToRenderValues(c, vals, common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1},
		common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, rv)
}

// objects are the rendered manifests by kind; each kind appears at most once per name.
type objects struct {
	t    *testing.T
	docs map[string][]string // kind -> documents
}

func mustRender(t *testing.T, vals map[string]any) objects {
	t.Helper()
	out, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	o := objects{t: t, docs: map[string][]string{}}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(out[name], "\n---") {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			if head.Kind == "" {
				continue // an empty document
			}
			o.docs[head.Kind] = append(o.docs[head.Kind], doc)
		}
	}
	return o
}

func (o objects) kinds() []string {
	var ks []string
	for k, docs := range o.docs {
		for range docs {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// decode decodes the only object of kind into v, refusing fields v's type does not
// have: a misspelt field would be silently ignored by Kubernetes.
func (o objects) decode(kind string, v any) {
	o.t.Helper()
	docs := o.docs[kind]
	if len(docs) != 1 {
		o.t.Fatalf("%d %s objects; want 1", len(docs), kind)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), v); err != nil {
		o.t.Fatalf("%s: %v\n%s", kind, err, docs[0])
	}
}

// setting is a row of README's configuration table.
type setting struct {
	key, env string
	secret   bool
}

// readmeSettings reads mfabot's configuration table from its README, the public contract
// (a test in mfabot's module holds the README to the configuration code).
func readmeSettings(t *testing.T) []setting {
	t.Helper()
	f, err := os.Open(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([a-z_.]+)(?: \\(path\\))?` \\| `([A-Z0-9_]+)` \\|")
	var out []setting
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := setting{key: m[1], env: m[2], secret: strings.Contains(sc.Text(), "**Secret**")}
		if s.secret {
			s.key = strings.TrimSuffix(s.key, "_file")
		}
		out = append(out, s)
	}
	if len(out) < 40 {
		t.Fatalf("found %d settings in README's table; the parser is out of date", len(out))
	}
	return out
}

// checkCommon checks what every rendering must have: mfabot.yaml holds only settings
// mfabot has and no secret; the pod runs mfabot as the Dockerfile's non-root user with a
// read-only root, probes on /healthz and /readyz, sets only variables mfabot reads and
// secrets only from a Secret; the Service selects the pods.
func checkCommon(t *testing.T, o objects) (appsv1.Deployment, corev1.Container) {
	t.Helper()
	settings := readmeSettings(t)
	byKey, byEnv := map[string]setting{}, map[string]setting{}
	for _, s := range settings {
		byKey[s.key], byEnv[s.env] = s, s
	}

	var cm corev1.ConfigMap
	o.decode("ConfigMap", &cm)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["mfabot.yaml"]), &cfg); err != nil {
		t.Fatalf("mfabot.yaml: %v", err)
	}
	for _, key := range leafKeys("", cfg) {
		s, ok := byKey[key]
		switch {
		case !ok:
			t.Errorf("mfabot.yaml sets %s, which mfabot does not have", key)
		case s.secret:
			t.Errorf("mfabot.yaml holds the secret %s", key)
		}
	}

	var dep appsv1.Deployment
	o.decode("Deployment", &dep)
	pod := dep.Spec.Template.Spec
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 10001 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, the image's uid 10001 and the runtime's seccomp profile", sc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted: mfabot does not call the Kubernetes API")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.AllowPrivilegeEscalation == nil ||
		*csc.AllowPrivilegeEscalation || csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, no capabilities", csc)
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/mfabot/mfabot.yaml"}) {
		t.Errorf("args %q", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v", c.Ports)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
		c.LivenessProbe.HTTPGet.Port.String() != "http" || c.ReadinessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("probes: liveness %+v, readiness %+v; want /healthz and /readyz on http", c.LivenessProbe, c.ReadinessProbe)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds <= 20 {
		t.Errorf("terminationGracePeriodSeconds %v: want longer than shutdown_grace (20 s)", pod.TerminationGracePeriodSeconds)
	}
	for _, e := range c.Env {
		s, ok := byEnv[strings.TrimSuffix(e.Name, "_FILE")]
		switch {
		case !ok:
			t.Errorf("the pod sets %s, which mfabot does not read", e.Name)
		case s.secret && e.ValueFrom == nil:
			t.Errorf("the pod sets the secret %s in plain text", e.Name)
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil {
		t.Errorf("envFrom %+v: want the secrets' Secret", c.EnvFrom)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if volume(pod, mounts["/etc/mfabot"]).ConfigMap == nil || volume(pod, mounts["/etc/mfabot"]).ConfigMap.Name != cm.Name {
		t.Errorf("/etc/mfabot is not the ConfigMap %s", cm.Name)
	}
	if volume(pod, mounts["/tmp"]).EmptyDir == nil {
		t.Error("no writable /tmp under the read-only root (mfabot doctor needs one)")
	}

	var svc corev1.Service
	o.decode("Service", &svc)
	if len(svc.Spec.Selector) == 0 || !isSubset(svc.Spec.Selector, dep.Spec.Template.Labels) ||
		!isSubset(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("selectors: Service %v, Deployment %v; pods %v", svc.Spec.Selector, dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v: want one to http", svc.Spec.Ports)
	}
	return dep, c
}

func volume(pod corev1.PodSpec, name string) corev1.VolumeSource {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v.VolumeSource
		}
	}
	return corev1.VolumeSource{}
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// leafKeys lists the dotted paths of the scalar values of m.
func leafKeys(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafKeys(prefix+k+".", sub)...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

// TestDefaultValues: one replica on SQLite, replaced with Recreate, the database on the
// claimed volume; no Ingress, ServiceMonitor or PodDisruptionBudget.
func TestDefaultValues(t *testing.T) {
	t.Parallel()
	o := mustRender(t, nil)
	want := []string{"ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service"}
	if got := o.kinds(); !slices.Equal(got, want) {
		t.Fatalf("objects %v; want %v", got, want)
	}
	dep, c := checkCommon(t, o)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v, strategy %q: SQLite needs exactly one pod, replaced with Recreate", dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	db, ok := env(c, "MFABOT_DB")
	if !ok || db.Value != "/var/lib/mfabot/mfabot.db" {
		t.Errorf("MFABOT_DB = %+v", db)
	}
	var pvc corev1.PersistentVolumeClaim
	o.decode("PersistentVolumeClaim", &pvc)
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if v := volume(dep.Spec.Template.Spec, mounts["/var/lib/mfabot"]); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("/var/lib/mfabot is %+v, want the claim %s", v, pvc.Name)
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the database's claim would be deleted with the release")
	}
	if _, ok := env(c, "MFABOT_DB_FILE"); ok {
		t.Error("MFABOT_DB_FILE set on SQLite")
	}
}

// TestPostgresHA renders the HA example: three replicas on PostgreSQL, rolling updates,
// spread over nodes with a disruption budget, the URL read from a Secret's file, an
// Ingress that exposes only the chat endpoints, and a ServiceMonitor.
func TestPostgresHA(t *testing.T) {
	t.Parallel()
	o := mustRender(t, valuesFile(t, haValues))
	want := []string{"ConfigMap", "Deployment", "Ingress", "PodDisruptionBudget", "Service", "ServiceMonitor"}
	if got := o.kinds(); !slices.Equal(got, want) {
		t.Fatalf("objects %v; want %v (no claim, no Secret: the example names its own)", got, want)
	}
	dep, c := checkCommon(t, o)
	pod := dep.Spec.Template.Spec
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 || dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		dep.Spec.Strategy.RollingUpdate == nil || dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("replicas %v, strategy %+v: want 3, rolling with none unavailable", dep.Spec.Replicas, dep.Spec.Strategy)
	}
	if _, ok := env(c, "MFABOT_DB"); ok {
		t.Error("MFABOT_DB is set: the URL, with its password, belongs in a file")
	}
	file, ok := env(c, "MFABOT_DB_FILE")
	if !ok {
		t.Fatal("MFABOT_DB_FILE is not set")
	}
	var mount string
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(file.Value, m.MountPath+"/") {
			mount = m.Name
		}
	}
	v := volume(pod, mount)
	if v.Secret == nil || v.Secret.SecretName != "mfabot-db" || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != "url" ||
		filepath.Join("/", v.Secret.Items[0].Path) != "/"+filepath.Base(file.Value) {
		t.Errorf("MFABOT_DB_FILE %s is not the key url of the Secret mfabot-db: %+v", file.Value, v)
	}
	for _, vol := range pod.Volumes {
		if vol.PersistentVolumeClaim != nil {
			t.Errorf("volume %s claims storage: the replicas share PostgreSQL", vol.Name)
		}
	}
	if c.EnvFrom[0].SecretRef.Name != "mfabot" {
		t.Errorf("envFrom %s; want the existing Secret mfabot", c.EnvFrom[0].SecretRef.Name)
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("topology spread %+v: want the replicas spread over nodes", pod.TopologySpreadConstraints)
	}

	var pdb policyv1.PodDisruptionBudget
	o.decode("PodDisruptionBudget", &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !isSubset(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("disruption budget %+v", pdb.Spec)
	}

	var ing networkingv1.Ingress
	o.decode("Ingress", &ing)
	var paths []string
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
			if p.Backend.Service == nil || p.Backend.Service.Port.Name != "http" {
				t.Errorf("path %s goes to %+v", p.Path, p.Backend)
			}
		}
	}
	if !slices.Equal(paths, []string{"/slack/", "/api/messages"}) {
		t.Errorf("Ingress paths %v: want only the chat endpoints (never /metrics)", paths)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "mfabot-tls" {
		t.Errorf("Ingress TLS %+v", ing.Spec.TLS)
	}

	var sm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port     string `json:"port"`
				Path     string `json:"path"`
				Interval string `json:"interval"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	o.decode("ServiceMonitor", &sm)
	var svc corev1.Service
	o.decode("Service", &svc)
	if sm.APIVersion != "monitoring.coreos.com/v1" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" ||
		sm.Spec.Endpoints[0].Port != "http" || !isSubset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor %+v", sm)
	}
}

// TestInlineSecrets: secrets and a database URL given as values go into Secrets the
// chart makes, never into the ConfigMap or the pod's plain environment.
func TestInlineSecrets(t *testing.T) {
	t.Parallel()
	const url = "postgres://mfabot:hunter22-pw@db.contoso.com/mfabot?sslmode=verify-full"
	o := mustRender(t, map[string]any{
		"replicaCount": 2,
		"secrets":      map[string]any{"values": map[string]any{"AZURE_CLIENT_SECRET": "az-secret-1234", "MFABOT_SLACK_BOT_TOKEN": "xoxb-1-2"}},
		"database":     map[string]any{"postgres": map[string]any{"url": url}},
	})
	for kind, docs := range o.docs {
		for _, doc := range docs {
			for _, s := range []string{"hunter22-pw", "az-secret-1234", "xoxb-1-2"} {
				if strings.Contains(doc, s) && kind != "Secret" {
					t.Errorf("a %s holds the secret %s", kind, s)
				}
			}
		}
	}
	if len(o.docs["Secret"]) != 2 {
		t.Fatalf("%d Secrets; want the credentials' and the database URL's", len(o.docs["Secret"]))
	}
	var found bool
	for _, doc := range o.docs["Secret"] {
		var s corev1.Secret
		if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
			t.Fatal(err)
		}
		if s.StringData["url"] == url {
			found = true
		}
	}
	if !found {
		t.Error("no Secret holds the URL under the key url")
	}
}

// TestRefused: values the chart refuses to render, each with a message naming what to
// change.
func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"ErrReplicasOnSQLite", map[string]any{"replicaCount": 2},
			"replicaCount 2 needs PostgreSQL: SQLite takes one writer on one volume"},
		{"ErrNotAPostgresURL", map[string]any{"database": map[string]any{"postgres": map[string]any{"url": "mysql://db/mfabot"}}},
			"database.postgres.url must be a PostgreSQL URL"},
		{"ErrBothURLAndSecret", map[string]any{"database": map[string]any{"postgres": map[string]any{"url": "postgres://db/mfabot", "existingSecret": "db"}}},
			"not both"},
		{"ErrSecretInConfig", map[string]any{"config": map[string]any{"slack": map[string]any{"bot_token": "xoxb-1"}}},
			"config.slack.bot_token is a secret"},
		{"ErrDatabaseInConfig", map[string]any{"config": map[string]any{"db": "postgres://db/mfabot"}},
			"config.db is set by the chart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.vals)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("render: %v; want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "xoxb-1") {
				t.Error("the message repeats the secret")
			}
		})
	}
}

// TestLint runs Helm's linter over the chart with the default values and the HA example.
func TestLint(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{"default": nil, "postgres-ha": valuesFile(t, haValues)} {
		t.Run(name, func(t *testing.T) {
			l := lint.RunAll(chartDir, vals, namespace)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

// TestChartREADME: every value in values.yaml is documented in the chart's README, by
// itself or with the value that holds it.
func TestChartREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range leafKeys("", valuesFile(t, filepath.Join(chartDir, "values.yaml"))) {
		if strings.HasPrefix(key, "config.") {
			continue // mfabot's own settings: its README documents them
		}
		documented := false
		for p := key; p != "" && !documented; {
			documented = strings.Contains(string(readme), "`"+p+"`")
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		if !documented {
			t.Errorf("the chart's README documents neither %s nor what holds it", key)
		}
	}
}
