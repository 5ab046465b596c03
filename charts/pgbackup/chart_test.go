package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

const (
	releaseName = "pgb"
	namespace   = "pgbackup-system"
	crdName     = "postgresbackups.pgbackup.dev"
)

// helm finds the helm binary; the tests fail without it rather than skip,
// so that a missing tool never passes for a green chart.
func helm(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("helm")
	if err != nil {
		t.Fatal("helm not found on PATH: run ../shared/ci/provision and source /var/cache/pgbackup-ci/env.sh, or install helm v3.22.0")
	}
	return path
}

// template renders the chart with --set style values and returns every
// object, or helm's error output.
func template(t *testing.T, set ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := []string{"template", releaseName, ".", "--namespace", namespace}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(&stdout, 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template printed invalid YAML: %v", err)
		}
		if obj == nil {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
	return objs, nil
}

func mustTemplate(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := template(t, set...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only object of kind, into a typed value.
func one(t *testing.T, objs []*unstructured.Unstructured, kind string, into any) {
	t.Helper()
	found := find(objs, kind)
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(found), kind)
	}
	data, err := found[0].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s does not decode strictly: %v", kind, err)
	}
}

func appVersion(t *testing.T) string {
	t.Helper()
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	data, err := os.ReadFile("Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml has no appVersion (%v)", err)
	}
	return chart.AppVersion
}

func TestLint(t *testing.T) {
	for _, set := range [][]string{
		nil,
		{"metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true", "watchNamespaces={a,b}", "replicaCount=2"},
		{"crds.install=false", "rbac.create=false", "serviceAccount.create=false", "serviceAccount.name=existing", "metrics.enabled=false"},
	} {
		args := []string{"lint", "--strict", "."}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := exec.Command(helm(t), args...).CombinedOutput(); err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestCRDMatchesGenerated(t *testing.T) {
	files, err := filepath.Glob("generated/crds/*.yaml")
	if err != nil || len(files) != 1 {
		t.Fatalf("want one generated CRD, got %v (%v): run make manifests", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var generated apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &generated); err != nil {
		t.Fatal(err)
	}

	var crd apiextensionsv1.CustomResourceDefinition
	one(t, mustTemplate(t), "CustomResourceDefinition", &crd)
	if crd.Name != crdName || generated.Name != crdName {
		t.Errorf("CRD names %q and %q, want %q", crd.Name, generated.Name, crdName)
	}
	if !reflect.DeepEqual(crd.Spec, generated.Spec) {
		t.Error("the chart's CRD spec differs from generated/crds: run make manifests")
	}
	if crd.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("CRD annotations %v lack helm.sh/resource-policy: keep", crd.Annotations)
	}
	if crd.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("CRD labels %v", crd.Labels)
	}

	var unkept apiextensionsv1.CustomResourceDefinition
	one(t, mustTemplate(t, "crds.keep=false"), "CustomResourceDefinition", &unkept)
	if _, ok := unkept.Annotations["helm.sh/resource-policy"]; ok {
		t.Error("crds.keep=false still keeps the CRD")
	}
	if n := len(find(mustTemplate(t, "crds.install=false"), "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.install=false rendered %d CRDs", n)
	}
}

func TestClusterRole(t *testing.T) {
	data, err := os.ReadFile("generated/rbac/role.yaml")
	if err != nil {
		t.Fatalf("%v: run make manifests", err)
	}
	var generated rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &generated); err != nil {
		t.Fatal(err)
	}
	objs := mustTemplate(t)
	var role rbacv1.ClusterRole
	one(t, objs, "ClusterRole", &role)
	if !reflect.DeepEqual(role.Rules, generated.Rules) {
		t.Errorf("the chart's ClusterRole rules differ from generated/rbac: run make manifests\n got %v\nwant %v", role.Rules, generated.Rules)
	}
	var binding rbacv1.ClusterRoleBinding
	one(t, objs, "ClusterRoleBinding", &binding)
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Namespace != namespace {
		t.Errorf("ClusterRoleBinding %+v does not bind %s to the ServiceAccount", binding, role.Name)
	}
}

// TestNothingOnSecrets checks every role the chart can create: the
// controller never needs Secrets (credentials reach the agent through
// secretKeyRef), and wildcards would grant them implicitly.
func TestNothingOnSecrets(t *testing.T) {
	objs := mustTemplate(t, "watchNamespaces={a,b}")
	objs = append(objs, mustTemplate(t)...)
	checked := 0
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		var role rbacv1.ClusterRole // Role has the same rules
		data, _ := o.MarshalJSON()
		if err := yaml.Unmarshal(data, &role); err != nil {
			t.Fatal(err)
		}
		for _, r := range role.Rules {
			coreGroup := slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")
			if coreGroup && (slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")) {
				t.Errorf("%s %s grants %v on %v", o.GetKind(), o.GetName(), r.Verbs, r.Resources)
			}
			if slices.Contains(r.Verbs, "*") || len(r.NonResourceURLs) > 0 {
				t.Errorf("%s %s has a wildcard or non-resource rule: %+v", o.GetKind(), o.GetName(), r)
			}
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("checked %d roles, want the ClusterRole and the leader-election Role", checked)
	}
}

func controllerContainer(t *testing.T, set ...string) (appsv1.Deployment, map[string]string) {
	t.Helper()
	var d appsv1.Deployment
	one(t, mustTemplate(t, set...), "Deployment", &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(d.Spec.Template.Spec.Containers))
	}
	args := map[string]string{}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		k, v, _ := strings.Cut(a, "=")
		args[k] = v
	}
	return d, args
}

func TestDeployment(t *testing.T) {
	version := appVersion(t)
	d, args := controllerContainer(t)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Args[0] != "controller" {
		t.Errorf("args %v do not start with the controller subcommand", c.Args)
	}
	if want := "pgbackup-controller:" + version; c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	if want := "pgbackup-agent:" + version; args["--agent-image"] != want {
		t.Errorf("--agent-image=%q, want %q", args["--agent-image"], want)
	}
	if c.ImagePullPolicy != "IfNotPresent" {
		t.Errorf("imagePullPolicy %q", c.ImagePullPolicy)
	}
	for flag, want := range map[string]string{
		"--health-probe-bind-address":      ":8081",
		"--metrics-bind-address":           ":8080",
		"--leader-elect":                   "",
		"--leader-election-namespace":      namespace,
		"--log-level":                      "info",
		"--verify-postgres-image-template": "postgres:{major}",
	} {
		if got, ok := args[flag]; !ok || got != want {
			t.Errorf("%s=%q (set: %v), want %q", flag, got, ok, want)
		}
	}
	if _, ok := args["--watch-namespaces"]; ok {
		t.Error("--watch-namespaces set by default")
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "health" {
		t.Errorf("liveness probe %+v", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v", p)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["health"] != 8081 || ports["metrics"] != 8080 {
		t.Errorf("ports %v", ports)
	}
	ps, sc := d.Spec.Template.Spec.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod security context %+v", ps)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v", sc)
	}
	if d.Spec.Template.Spec.ServiceAccountName != releaseName+"-pgbackup" {
		t.Errorf("serviceAccountName %q", d.Spec.Template.Spec.ServiceAccountName)
	}

	// The images from a registry, by tag and by digest.
	digest := "sha256:" + strings.Repeat("ab", 32)
	d, args = controllerContainer(t,
		"image.registry=registry.example.com/ops", "image.tag=v9.9.9",
		"agent.image.registry=registry.example.com/ops/", "agent.image.repository=pgbackup-agent-pg18", "agent.image.digest="+digest,
		"watchNamespaces={shop,billing}", "leaderElection.enabled=false", "metrics.enabled=false",
		"verify.postgresImageTemplate=registry.example.com/ops/postgres:{major}-bookworm")
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/ops/pgbackup-controller:v9.9.9" {
		t.Errorf("image %q", got)
	}
	if got := args["--agent-image"]; got != "registry.example.com/ops/pgbackup-agent-pg18@"+digest {
		t.Errorf("--agent-image=%q", got)
	}
	if got := args["--verify-postgres-image-template"]; got != "registry.example.com/ops/postgres:{major}-bookworm" {
		t.Errorf("--verify-postgres-image-template=%q", got)
	}
	if got := args["--watch-namespaces"]; got != "shop,billing" {
		t.Errorf("--watch-namespaces=%q", got)
	}
	if _, ok := args["--leader-elect"]; ok {
		t.Error("--leader-elect with leaderElection.enabled=false")
	}
	if got := args["--metrics-bind-address"]; got != "0" {
		t.Errorf("--metrics-bind-address=%q with metrics disabled", got)
	}
}

func TestNoLatestTags(t *testing.T) {
	objs := mustTemplate(t)
	_, args := controllerContainer(t)
	images := []string{args["--agent-image"]}
	for _, d := range find(objs, "Deployment") {
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	for _, img := range images {
		if !regexp.MustCompile(`:[A-Za-z0-9_][A-Za-z0-9_.-]*$|@sha256:`).MatchString(img) || strings.HasSuffix(img, ":latest") {
			t.Errorf("image %q has no pinned tag", img)
		}
	}
}

func TestWatchNamespacesBindsPerNamespace(t *testing.T) {
	objs := mustTemplate(t, "watchNamespaces={shop,billing}")
	if n := len(find(objs, "ClusterRoleBinding")); n != 0 {
		t.Errorf("%d ClusterRoleBindings with watchNamespaces set", n)
	}
	bound := map[string]bool{}
	for _, o := range find(objs, "RoleBinding") {
		var rb rbacv1.RoleBinding
		data, _ := o.MarshalJSON()
		if err := yaml.Unmarshal(data, &rb); err != nil {
			t.Fatal(err)
		}
		if rb.RoleRef.Kind == "ClusterRole" {
			bound[rb.Namespace] = true
		}
	}
	if !bound["shop"] || !bound["billing"] || len(bound) != 2 {
		t.Errorf("ClusterRole bound in %v, want shop and billing", bound)
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want string
	}{
		{"replicaCount=-1", "replicaCount"},
		{"replicaCount=two", "replicaCount"},
		{"image.pullPolicy=Sometimes", "pullPolicy"},
		{"image.tag=has space", "tag"},
		{"agent.image.digest=md5:abc", "digest"},
		{"crds.keep=yes", "keep"},
		{"logLevel=verbose", "logLevel"},
		{"watchNamespaces=shop", "watchNamespaces"},
		{"metrics.port=70000", "port"},
		{"metrics.prometheusRule.stale.maxAge=1 day", "maxAge"},
		{"metrics.prometheusRule.noSuccessSinceCreation.maxAge=1 day", "maxAge"},
		{"metrics.prometheusRule.runningTooLong.maxDuration=3 hours", "maxDuration"},
		{"metrics.prometheusRule.warnings.for=soon", "for"},
		{"metrics.prometheusRule.metricsAbsent.for=30", "for"},
		{"metrics.prometheusRule.verificationFailed.for=later", "for"},
		{"verify.postgresImageTemplate=", "postgresImageTemplate"},
		{"verify.postgresImageTemplate=postgres {major}", "postgresImageTemplate"},
		{"metrics.prometheusRule.controllerDown.selector=up{job}", "selector"},
		{"metrics.prometheusRule.controllerDown.severity=", "severity"},
		{"unknownKey=1", "unknownKey"},
		{"image.tga=v1", "tga"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := template(t, tc.set)
			if err == nil {
				t.Fatalf("--set %s was accepted", tc.set)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name the schema and %q: %v", tc.want, err)
			}
		})
	}
	// Not expressible in the schema, checked by the templates.
	for _, set := range [][]string{
		{"replicaCount=2", "leaderElection.enabled=false"},
		{"metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"},
		{"serviceAccount.create=false"},
		{"metrics.prometheusRule.enabled=true", "metrics.enabled=false"},
	} {
		if _, err := template(t, set...); err == nil {
			t.Errorf("--set %v was accepted", set)
		}
	}
}

func TestMonitoring(t *testing.T) {
	objs := mustTemplate(t)
	if n := len(find(objs, "PrometheusRule")) + len(find(objs, "ServiceMonitor")); n != 0 {
		t.Errorf("monitoring objects rendered by default: %d", n)
	}
	var svc struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
			Ports    []struct {
				Name       string `json:"name"`
				Port       int    `json:"port"`
				TargetPort string `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	svcs := find(objs, "Service")
	if len(svcs) != 1 {
		t.Fatalf("%d Services", len(svcs))
	}
	data, _ := svcs[0].MarshalJSON()
	if err := yaml.Unmarshal(data, &svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort != "metrics" ||
		svc.Spec.Selector["app.kubernetes.io/component"] != "controller" {
		t.Errorf("metrics Service %+v", svc.Spec)
	}

	objs = mustTemplate(t, "metrics.prometheusRule.enabled=true", "metrics.serviceMonitor.enabled=true",
		"metrics.prometheusRule.stale.maxAge=2d", "metrics.prometheusRule.labels.release=kube-prometheus")
	if sms := find(objs, "ServiceMonitor"); len(sms) != 1 {
		t.Errorf("%d ServiceMonitors", len(sms))
	} else {
		// The series' own namespace label must win over the target's, or
		// every alert names the controller's namespace.
		eps, _, _ := unstructured.NestedSlice(sms[0].Object, "spec", "endpoints")
		if len(eps) != 1 || eps[0].(map[string]any)["honorLabels"] != true {
			t.Errorf("ServiceMonitor endpoints %v: want honorLabels: true", eps)
		}
	}
	rules := find(objs, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	if rules[0].GetLabels()["release"] != "kube-prometheus" {
		t.Errorf("labels %v", rules[0].GetLabels())
	}
	alerts := alertsOf(t, rules[0])
	for _, name := range allAlerts {
		if alerts[name] == "" {
			t.Errorf("alert %s missing (have %v)", name, alerts)
		}
	}
	if len(alerts) != len(allAlerts) {
		t.Errorf("alerts %v, want %v", alerts, allAlerts)
	}
	if !strings.Contains(alerts["PgBackupLastBackupFailed"], "pgbackup_last_backup_succeeded == 0") {
		t.Errorf("failed-backup alert must read the status gauge, which survives restarts: %s", alerts["PgBackupLastBackupFailed"])
	}
	if !strings.Contains(alerts["PgBackupStale"], "> 172800") {
		t.Errorf("stale alert for maxAge 2d: %s", alerts["PgBackupStale"])
	}
	// The job the chart's ServiceMonitor gives the controller's targets is
	// the metrics Service's name.
	if want := `absent(up{job="pgb-pgbackup-metrics", namespace="pgbackup-system"} == 1)`; !strings.Contains(alerts["PgBackupControllerDown"], want) {
		t.Errorf("controller-down alert %q, want %q", alerts["PgBackupControllerDown"], want)
	}
	// By default each resource's own threshold, as its BackupRunning condition.
	if !strings.Contains(alerts["PgBackupRunningTooLong"], "> on (namespace, name)\nmax by (namespace, name) (pgbackup_backup_running_threshold_seconds > 0)") {
		t.Errorf("running-too-long alert does not compare with each resource's threshold: %s", alerts["PgBackupRunningTooLong"])
	}
	for name, expr := range alerts {
		if name != "PgBackupControllerDown" && !strings.Contains(expr, "pgbackup_") {
			t.Errorf("%s uses no pgbackup metric: %s", name, expr)
		}
	}

	// Thresholds and selectors come from the values.
	alerts = alertsOf(t, find(mustTemplate(t, "metrics.prometheusRule.enabled=true",
		"metrics.prometheusRule.runningTooLong.maxDuration=90m",
		"metrics.prometheusRule.noSuccessSinceCreation.maxAge=3d",
		`metrics.prometheusRule.controllerDown.selector=job="pgbackup"`), "PrometheusRule")[0])
	for name, want := range map[string]string{
		"PgBackupRunningTooLong":         "max by (namespace, name) (pgbackup_backup_running_seconds) > 5400",
		"PgBackupNoSuccessSinceCreation": "[1h] offset 3d",
		"PgBackupControllerDown":         `absent(up{job="pgbackup"} == 1)`,
	} {
		if !strings.Contains(alerts[name], want) {
			t.Errorf("%s: %q does not contain %q", name, alerts[name], want)
		}
	}

	// Each alert can be disabled on its own.
	for _, name := range allAlerts {
		key := alertValues[name]
		objs := mustTemplate(t, "metrics.prometheusRule.enabled=true", "metrics.prometheusRule."+key+".enabled=false")
		alerts := alertsOf(t, find(objs, "PrometheusRule")[0])
		if _, ok := alerts[name]; ok || len(alerts) != len(allAlerts)-1 {
			t.Errorf("%s.enabled=false: alerts %v", key, alerts)
		}
	}
}

// allAlerts are the chart's alerts, and alertValues their values keys.
var (
	allAlerts = []string{
		"PgBackupLastBackupFailed", "PgBackupStale", "PgBackupNeverSucceeded", "PgBackupNoSuccessSinceCreation",
		"PgBackupRunningTooLong", "PgBackupWarnings", "PgBackupVerificationFailed", "PgBackupUnverified",
		"PgBackupControllerDown", "PgBackupMetricsAbsent",
	}
	alertValues = map[string]string{
		"PgBackupLastBackupFailed": "lastBackupFailed", "PgBackupStale": "stale", "PgBackupNeverSucceeded": "neverSucceeded",
		"PgBackupNoSuccessSinceCreation": "noSuccessSinceCreation", "PgBackupRunningTooLong": "runningTooLong",
		"PgBackupWarnings": "warnings", "PgBackupVerificationFailed": "verificationFailed", "PgBackupUnverified": "unverified",
		"PgBackupControllerDown": "controllerDown", "PgBackupMetricsAbsent": "metricsAbsent",
	}
)

// promtoolVersion is the version of the Go module
// github.com/prometheus/prometheus whose promtool TestAlertRules runs.
const promtoolVersion = "v0.316.0"

// promtool finds promtool: $PROMTOOL, then bin/ of the repository, then
// PATH. Like helm, a missing promtool fails the test, never skips it.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	for _, p := range []string{
		filepath.Join("..", "..", "bin", "promtool-"+promtoolVersion),
		filepath.Join("..", "..", "bin", "promtool"),
	} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			abs, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	t.Fatalf("promtool not found ($PROMTOOL, bin/promtool-%[1]s, bin/promtool or PATH): the alert rules are tested with it. From the repository's root:\n"+
		"  GOBIN=$PWD/bin go install github.com/prometheus/prometheus/cmd/promtool@%[1]s\n"+
		"(it builds from the Go module proxy; about 12 minutes on 2 cores with an empty module cache)", promtoolVersion)
	return ""
}

// TestAlertRules checks the rendered alert rules with promtool: `check
// rules` (the expressions and templates parse) on the rules as rendered,
// then `test rules` with testdata/alerts.test.yaml, which feeds series to
// the rules and expects the alerts, with their labels and summaries. The
// descriptions are left out for `test rules`, which would otherwise need
// every sentence of them repeated in the test file.
func TestAlertRules(t *testing.T) {
	tool := promtool(t)
	objs := mustTemplate(t, "metrics.prometheusRule.enabled=true", "metrics.prometheusRule.alertLabels.team=dba")
	rules := find(objs, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	spec, _, _ := unstructured.NestedMap(rules[0].Object, "spec")
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "rendered.yaml"), spec)
	runPromtool(t, tool, dir, "check", "rules", "rendered.yaml")

	groups, _, _ := unstructured.NestedSlice(spec, "groups")
	for _, g := range groups {
		rs, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rs {
			unstructured.RemoveNestedField(r.(map[string]any), "annotations", "description")
		}
		if err := unstructured.SetNestedSlice(g.(map[string]any), rs, "rules"); err != nil {
			t.Fatal(err)
		}
	}
	if err := unstructured.SetNestedSlice(spec, groups, "groups"); err != nil {
		t.Fatal(err)
	}
	writeYAML(t, filepath.Join(dir, "rules.yaml"), spec)

	tests, err := os.ReadFile(filepath.Join("testdata", "alerts.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, tool, dir, "test", "rules", "alerts.test.yaml")

	// Every alert is seen firing at least once, so none goes untested.
	var file struct {
		Tests []struct {
			AlertRuleTest []struct {
				AlertName string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(tests, &file); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, tc := range file.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.AlertName] = true
			}
		}
	}
	for name := range alertsOf(t, rules[0]) {
		if !fired[name] {
			t.Errorf("testdata/alerts.test.yaml never expects %s to fire", name)
		}
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func runPromtool(t *testing.T, tool, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// alertsOf returns the alerts of a PrometheusRule by name, with their expr.
func alertsOf(t *testing.T, rule *unstructured.Unstructured) map[string]string {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	alerts := map[string]string{}
	for _, g := range groups {
		rs, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rs {
			m := r.(map[string]any)
			name, _ := m["alert"].(string)
			expr, _ := m["expr"].(string)
			alerts[name] = expr
		}
	}
	return alerts
}

// TestReadmeExamples decodes the README's PostgresBackup example strictly
// into the API types, so a renamed field cannot leave the security advice
// wrong, and checks it still shows the PGREQUIREAUTH opt-in.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(data, -1)
	found := 0
	for _, b := range blocks {
		if !bytes.Contains(b[1], []byte("kind: PostgresBackup")) {
			continue
		}
		found++
		var pb v1alpha1.PostgresBackup
		if err := yaml.UnmarshalStrict(b[1], &pb); err != nil {
			t.Errorf("README PostgresBackup example does not decode strictly: %v\n%s", err, b[1])
			continue
		}
		if pb.Spec.PodTemplate == nil || !slices.ContainsFunc(pb.Spec.PodTemplate.Env, func(e corev1.EnvVar) bool {
			return e.Name == "PGREQUIREAUTH" && e.Value == "scram-sha-256"
		}) {
			t.Errorf("README example %s lacks podTemplate.env PGREQUIREAUTH=scram-sha-256", pb.Name)
		}
	}
	if found == 0 {
		t.Fatal("README.md has no PostgresBackup example")
	}
}
