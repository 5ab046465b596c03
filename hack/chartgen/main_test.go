package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"
)

// render executes a generated template the way Helm would, with stand-ins
// for the chart's named templates.
func render(t *testing.T, tmpl []byte, values map[string]any) map[string]any {
	t.Helper()
	funcs := template.FuncMap{
		"include": func(name string, _ any) string {
			if strings.HasSuffix(name, "abels") {
				return "included/" + strings.TrimPrefix(name, "pgbackup.") + ": x"
			}
			return "included-" + strings.TrimPrefix(name, "pgbackup.")
		},
		"nindent": func(n int, s string) string {
			return "\n" + strings.Repeat(" ", n) + strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
		},
	}
	tp, err := template.New("t").Funcs(funcs).Parse(string(tmpl))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, tmpl)
	}
	var out bytes.Buffer
	if err := tp.Execute(&out, map[string]any{"Values": values}); err != nil {
		t.Fatalf("execute: %v", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("rendered template is not YAML: %v\n%s", err, out.String())
	}
	return obj
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestCRDTemplate(t *testing.T) {
	src, err := os.ReadFile("testdata/crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	name, tmpl, err := crdTemplate("generated/crds/crd.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if name != "crd-widgets.yaml" {
		t.Errorf("name = %q", name)
	}
	if !bytes.HasPrefix(tmpl, []byte(generatedMarker)) {
		t.Errorf("template does not start with the generated marker")
	}
	want := readYAML(t, "testdata/crd.yaml")

	for _, keep := range []bool{true, false} {
		got := render(t, tmpl, map[string]any{"crds": map[string]any{"install": true, "keep": keep}})
		if !reflect.DeepEqual(got["spec"], want["spec"]) {
			t.Errorf("keep=%v: spec differs from the generated CRD:\n got %v\nwant %v", keep, got["spec"], want["spec"])
		}
		meta := got["metadata"].(map[string]any)
		if meta["name"] != "widgets.example.com" {
			t.Errorf("name = %v", meta["name"])
		}
		ann := meta["annotations"].(map[string]any)
		if ann["controller-gen.kubebuilder.io/version"] != "v0.23.0" {
			t.Errorf("annotations lost: %v", ann)
		}
		if _, has := ann["helm.sh/resource-policy"]; has != keep || (keep && ann["helm.sh/resource-policy"] != "keep") {
			t.Errorf("keep=%v: annotations %v", keep, ann)
		}
		if _, ok := meta["labels"].(map[string]any)["included/labels"]; !ok {
			t.Errorf("labels not included: %v", meta["labels"])
		}
	}
	if got := render(t, tmpl, map[string]any{"crds": map[string]any{"install": false, "keep": true}}); got != nil {
		t.Errorf("install=false rendered %v", got)
	}
}

func TestClusterRoleTemplate(t *testing.T) {
	src, err := os.ReadFile("testdata/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := clusterRoleTemplateFor("generated/rbac/role.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, tmpl, map[string]any{"rbac": map[string]any{"create": true}})
	want := readYAML(t, "testdata/role.yaml")
	if !reflect.DeepEqual(got["rules"], want["rules"]) {
		t.Errorf("rules differ:\n got %v\nwant %v", got["rules"], want["rules"])
	}
	if got["kind"] != "ClusterRole" || got["metadata"].(map[string]any)["name"] != "included-controllerRoleName" {
		t.Errorf("kind or name: %v", got)
	}
	if got := render(t, tmpl, map[string]any{"rbac": map[string]any{"create": false}}); got != nil {
		t.Errorf("create=false rendered %v", got)
	}

	twoDocs := append(append([]byte{}, src...), []byte("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: x\n  namespace: y\nrules: []\n")...)
	if _, err := clusterRoleTemplateFor("x", twoDocs); err == nil {
		t.Error("a second (namespaced) Role was accepted")
	}
}

func TestDocumentedValues(t *testing.T) {
	values := []byte(`image:
  # -- Its tag.
  # Continued here.
  tag: ""
  repository: x
# -- Resources, documented as a whole.
resources:
  limits:
    memory: 1Gi
`)
	if _, err := documentedValues(values); err == nil || !strings.Contains(err.Error(), "image.repository") {
		t.Fatalf("undocumented image.repository: err = %v", err)
	}
	values = bytes.Replace(values, []byte("  repository: x"), []byte("  # -- Its repository.\n  repository: x"), 1)
	values = append([]byte("# -- A comment a blank line separates from a key documents nothing.\n\n# -- The image.\n"), values...)
	table, err := valuesTable(values)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| `image` | The image. | `{\"repository\":\"x\",\"tag\":\"\"}` |",
		"| `image.tag` | Its tag. Continued here. | `\"\"` |",
		"| `image.repository` | Its repository. | `\"x\"` |",
		"| `resources` | Resources, documented as a whole. | `{\"limits\":{\"memory\":\"1Gi\"}}` |",
	} {
		if !strings.Contains(table, row) {
			t.Errorf("table lacks %s:\n%s", row, table)
		}
	}
}

// TestChartUpToDate regenerates the chart's generated files into a copy and
// compares them with the committed ones: a change to the API markers, the
// ClusterRole markers or values.yaml without `make manifests` fails here.
func TestChartUpToDate(t *testing.T) {
	chart := filepath.Join("..", "..", "charts", "pgbackup")
	generated := filepath.Join(chart, "generated")
	if _, err := os.Stat(filepath.Join(generated, "rbac", "role.yaml")); err != nil {
		t.Fatalf("controller-gen output missing (%v): run make manifests", err)
	}
	tmp := t.TempDir()
	copyFile(t, filepath.Join(chart, "values.yaml"), filepath.Join(tmp, "values.yaml"))
	copyFile(t, filepath.Join(chart, "README.md"), filepath.Join(tmp, "README.md"))
	committed, err := filepath.Glob(filepath.Join(chart, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range committed {
		copyFile(t, f, filepath.Join(tmp, "templates", filepath.Base(f)))
	}
	if err := run(tmp, generated); err != nil {
		t.Fatal(err)
	}
	fresh, err := filepath.Glob(filepath.Join(tmp, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != len(committed) {
		t.Errorf("templates: %d committed, %d after regenerating: run make manifests", len(committed), len(fresh))
	}
	for _, f := range append(fresh, filepath.Join(tmp, "README.md")) {
		rel, _ := filepath.Rel(tmp, f)
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chart, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("charts/pgbackup/%s is out of date: run make manifests", filepath.ToSlash(rel))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
