package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The values table of the chart's README sits between these markers.
const (
	valuesBegin = "<!-- values:begin (generated from values.yaml by hack/chartgen; do not edit) -->"
	valuesEnd   = "<!-- values:end -->"
)

var (
	valuesKeyLine  = regexp.MustCompile(`^( *)([A-Za-z0-9_.-]+):`)
	valuesDocLine  = regexp.MustCompile(`^ *# -- (.*)$`)
	valuesContLine = regexp.MustCompile(`^ *#\s?(.*)$`)
)

// valueDoc is one documented key of values.yaml.
type valueDoc struct {
	path, description string
}

// documentedValues reads the "# -- description" comments of values.yaml
// (a comment continues on the following "#" lines) and returns the keys they
// document, in file order. Every value must be documented, on itself or on
// an enclosing key, so the README cannot silently miss one.
func documentedValues(values []byte) ([]valueDoc, error) {
	var docs []valueDoc
	type frame struct {
		indent int
		key    string
	}
	var stack []frame
	var pending []string
	for _, line := range strings.Split(string(values), "\n") {
		if m := valuesDocLine.FindStringSubmatch(line); m != nil {
			pending = []string{strings.TrimSpace(m[1])}
			continue
		}
		if m := valuesContLine.FindStringSubmatch(line); m != nil && pending != nil {
			if t := strings.TrimSpace(m[1]); t != "" {
				pending = append(pending, t)
			}
			continue
		}
		m := valuesKeyLine.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) == "" {
				pending = nil
			}
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, frame{indent, m[2]})
		if pending != nil {
			keys := make([]string, len(stack))
			for i, f := range stack {
				keys[i] = f.key
			}
			docs = append(docs, valueDoc{strings.Join(keys, "."), strings.Join(pending, " ")})
			pending = nil
		}
	}

	var tree map[string]any
	if err := yaml.Unmarshal(values, &tree); err != nil {
		return nil, fmt.Errorf("values.yaml: %w", err)
	}
	documented := map[string]bool{}
	for _, d := range docs {
		documented[d.path] = true
	}
	var undocumented []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			if documented[path] {
				continue
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(path+".", sub)
				continue
			}
			undocumented = append(undocumented, path)
		}
	}
	walk("", tree)
	if len(undocumented) > 0 {
		sort.Strings(undocumented)
		return nil, fmt.Errorf("values.yaml: no \"# --\" comment on %s", strings.Join(undocumented, ", "))
	}
	return docs, nil
}

// lookup returns the value at a dotted path of the parsed values.
func lookup(tree map[string]any, path string) (any, bool) {
	var cur any = tree
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// valuesTable renders the documented values as a Markdown table with their
// defaults as compact JSON.
func valuesTable(values []byte) (string, error) {
	docs, err := documentedValues(values)
	if err != nil {
		return "", err
	}
	var tree map[string]any
	if err := yaml.Unmarshal(values, &tree); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| Key | Description | Default |\n|---|---|---|\n")
	for _, d := range docs {
		v, ok := lookup(tree, d.path)
		if !ok {
			return "", fmt.Errorf("values.yaml: %s not found", d.path)
		}
		def, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", d.path, cell(d.description), cell(string(def)))
	}
	return b.String(), nil
}

// cell escapes a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// readmeWithValues replaces the text between the values markers of readme.
func readmeWithValues(readme []byte, table string) ([]byte, error) {
	begin := bytes.Index(readme, []byte(valuesBegin))
	end := bytes.Index(readme, []byte(valuesEnd))
	if begin < 0 || end < begin {
		return nil, errors.New("README.md has no values markers:\n" + valuesBegin + "\n" + valuesEnd)
	}
	var b bytes.Buffer
	b.Write(readme[:begin+len(valuesBegin)])
	b.WriteString("\n" + table)
	b.Write(readme[end:])
	return b.Bytes(), nil
}
