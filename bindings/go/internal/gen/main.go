// Command gen writes contract_gen.go, the Go mirror of contract/idpkit.json: one struct per
// options and result type of the contract, the Event union, the string enums, and one typed
// method per operation over the generic call. Run it from bindings/go with `go generate`
// (tests/suites/30-go.sh regenerates and diffs, so a field added in core reaches Go with no
// hand edit).
//
// Options fields follow one rule, so an unset field always takes the core's default: a field
// whose Go zero value means the same as its default (0, false, "" and empty collections where
// the default is that, and strings, where "" is never a setting of its own) is a plain value
// with omitempty; a number or bool whose default is something else (jobs 4, attempts 5,
// breaker_threshold 10 where 0 is "off", ...) or which may be null is a pointer (nil: the
// default; Ptr(0): an explicit 0); a list that may be null marshals nil as null (the default)
// and an empty list as []; a nested options struct is omitted when zero. The options a
// nested struct's fields are flattened from (RegistryOptions in PushOptions, ...) are embedded,
// which encoding/json flattens the same way.
//
// Result fields the contract does not list as `required` carry omitempty, so a result (an OCI
// manifest, index or config, whose properties keep the image spec's names: `mediaType`,
// `Env`, `os.version`, `diff_ids`) marshals back without the empty fields the core left out.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"sort"
	"strings"
)

type schema = map[string]any

type operation struct {
	Name       string `json:"name"`
	NeedsStore bool   `json:"needs_store"`
	Summary    string `json:"summary"`
	Options    any    `json:"options"`
	Output     any    `json:"output"`
}

type contract struct {
	Version    string            `json:"version"`
	Operations []operation       `json:"operations"`
	Defs       map[string]schema `json:"$defs"`
}

func main() {
	in := flag.String("contract", "../../contract/idpkit.json", "the contract to read")
	out := flag.String("out", "contract_gen.go", "the Go file to write")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var c contract
	if err := json.Unmarshal(raw, &c); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	g := &gen{c: c, options: map[string]bool{}, bases: map[string]bool{}}
	src, err := format.Source(g.file())
	if err != nil {
		log.Fatalf("formatting the generated code: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

type gen struct {
	c       contract
	b       bytes.Buffer
	options map[string]bool // defs reachable from an operation's options
	bases   map[string]bool // object defs that are a field of some options def
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }

// refName is the def name of {"$ref": "#/$defs/X"}, or "".
func refName(s any) string {
	m, ok := s.(schema)
	if !ok {
		return ""
	}
	r, _ := m["$ref"].(string)
	return strings.TrimPrefix(r, "#/$defs/")
}

// walkOptions marks every def reachable from s as an options def.
func (g *gen) walkOptions(s any, nested bool) {
	m, ok := s.(schema)
	if !ok {
		return
	}
	if name := refName(m); name != "" {
		if nested && g.c.Defs[name]["properties"] != nil {
			g.bases[name] = true
		}
		if !g.options[name] {
			g.options[name] = true
			g.walkOptions(g.c.Defs[name], false)
		}
		return
	}
	if props, ok := m["properties"].(schema); ok {
		for _, p := range props {
			g.walkOptions(p, true)
		}
	}
	g.walkOptions(m["items"], nested)
}

var initialisms = map[string]string{"ca": "CA", "id": "ID", "ids": "IDs", "gc": "GC", "os": "OS", "sha256": "SHA256", "tls": "TLS", "url": "URL", "urls": "URLs", "json": "JSON", "http": "HTTP"}

// goName turns snake_case (or kebab-case, as some enum values are), camelCase and
// PascalCase (the OCI documents' `mediaType`, `Env`) and dotted names (`os.version`) into an
// exported Go name.
func goName(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if up, ok := initialisms[part]; ok {
			b.WriteString(up)
		} else if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// types returns the JSON types of s and whether null is one of them.
func types(s schema) (string, bool) {
	switch t := s["type"].(type) {
	case string:
		return t, false
	case []any:
		var one string
		null := false
		for _, x := range t {
			if x == "null" {
				null = true
			} else {
				one, _ = x.(string)
			}
		}
		return one, null
	}
	return "", false
}

// nullableRef is the definition an optional struct refers to (`Option<T>`: `anyOf` of a
// $ref and null), else "".
func nullableRef(m schema) string {
	alts, _ := m["anyOf"].([]any)
	if len(alts) != 2 {
		return ""
	}
	ref, null := "", false
	for _, a := range alts {
		if as, ok := a.(schema); ok {
			if n := refName(as); n != "" {
				ref = n
			} else if as["type"] == "null" {
				null = true
			}
		}
	}
	if !null {
		return ""
	}
	return ref
}

// goType is the Go type of a schema and whether it may be null.
func (g *gen) goType(s any, output bool) (string, bool) {
	m, ok := s.(schema)
	if ref := nullableRef(m); ok && ref != "" {
		return ref, true
	}
	if !ok || len(m) == 0 || (m["type"] == nil && m["$ref"] == nil) {
		if output {
			return "json.RawMessage", false
		}
		return "any", false
	}
	if name := refName(m); name != "" {
		return name, false
	}
	t, null := types(m)
	switch t {
	case "string":
		// RFC 3339 times (the contract's date-time format) as time.Time, which
		// encoding/json reads from that form; null when the core may have none.
		if m["format"] == "date-time" {
			if null {
				return "*time.Time", false
			}
			return "time.Time", false
		}
		return "string", null
	case "boolean":
		return "bool", null
	case "number":
		return "float64", null
	case "integer":
		switch m["format"] {
		case "int32", "int64", "uint32", "uint64":
			return m["format"].(string), null
		case "uint":
			return "uint", null
		}
		return "int64", null
	case "array":
		item, _ := g.goType(m["items"], output)
		return "[]" + item, null
	case "object":
		v, _ := g.goType(m["additionalProperties"], output)
		return "map[string]" + v, null
	}
	log.Fatalf("unsupported schema %v", m)
	return "", false
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func (g *gen) comment(indent, text string) {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		g.p("%s// %s", indent, strings.TrimSpace(line))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// embedded are the bases whose every property d has with the same schema.
func (g *gen) embedded(name string, props schema) []string {
	var out []string
	for _, b := range sortedKeys(g.bases) {
		bp, _ := g.c.Defs[b]["properties"].(schema)
		if b == name || len(bp) == 0 {
			continue
		}
		all := true
		for k, v := range bp {
			if canon(props[k]) != canon(v) {
				all = false
				break
			}
		}
		if all {
			out = append(out, b)
		}
	}
	return out
}

// field writes one property of a struct; required says the def lists it in `required`.
func (g *gen) field(name string, s any, output, required bool) {
	m, _ := s.(schema)
	typ, null := g.goType(s, output)
	if d, ok := m["description"].(string); ok {
		g.comment("\t", d)
	}
	tag := name
	if output && null && nullableRef(m) != "" {
		// An optional struct of a result: nil when the core sent null.
		typ = "*" + typ
	}
	if output && !required {
		// What the core may leave out stays out when a result is marshalled again (an
		// OCI document back to its wire form: no `"annotations": null`).
		tag += ",omitempty"
	}
	if !output {
		def, hasDefault := m["default"]
		ref := refName(m)
		enum := ref != "" && g.c.Defs[ref]["properties"] == nil
		switch {
		case strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "map["):
			if !null {
				tag += ",omitempty"
			}
		case ref != "" && !enum:
			tag += ",omitzero"
		case typ == "string" || enum || typ == "any":
			tag += ",omitempty"
		case null || (hasDefault && !isZero(def)):
			typ = "*" + typ
			tag += ",omitempty"
		default:
			tag += ",omitempty"
		}
		if hasDefault && !isZero(def) {
			g.p("\t// Default: %s (unset takes it).", canon(def))
		}
	}
	g.p("\t%s %s `json:%q`", goName(name), typ, tag)
}

func (g *gen) object(name string, d schema) {
	props, _ := d["properties"].(schema)
	output := !g.options[name]
	if desc, ok := d["description"].(string); ok {
		g.comment("", name+": "+desc)
	} else {
		g.p("// %s mirrors the contract's $defs/%s.", name, name)
	}
	g.p("type %s struct {", name)
	skip := map[string]bool{}
	if !output {
		for _, b := range g.embedded(name, props) {
			g.p("\t%s", b)
			for k := range g.c.Defs[b]["properties"].(schema) {
				skip[k] = true
			}
		}
	}
	required := map[string]bool{}
	if req, ok := d["required"].([]any); ok {
		for _, r := range req {
			if k, ok := r.(string); ok {
				required[k] = true
			}
		}
	}
	var secret []string
	for _, k := range sortedKeys(props) {
		if !skip[k] {
			g.field(k, props[k], output, required[k])
		}
		if ps, ok := props[k].(schema); ok && ps["x-secret"] == true {
			secret = append(secret, goName(k))
		}
	}
	g.p("}\n")
	if len(secret) > 0 {
		// Printing (fmt's %v, %+v, %s, %#v) never shows a decrypted value or secret text.
		g.p("// String prints %s with %s redacted.", name, strings.Join(secret, ", "))
		g.p("func (v %s) String() string { return withRedacted(v, %s) }\n", name, quoteAll(secret))
		g.p("// GoString is String: %%#v redacts too.")
		g.p("func (v %s) GoString() string { return v.String() }\n", name)
	}
}

// quoteAll writes names as Go string literals separated by commas.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// enumValues are the strings of an enum def (`enum`, or `oneOf` of consts and enums).
func enumValues(d schema) []string {
	var out []string
	add := func(s schema) {
		if c, ok := s["const"].(string); ok {
			out = append(out, c)
		}
		if e, ok := s["enum"].([]any); ok {
			for _, v := range e {
				out = append(out, v.(string))
			}
		}
	}
	add(d)
	if one, ok := d["oneOf"].([]any); ok {
		for _, v := range one {
			add(v.(schema))
		}
	}
	return out
}

func (g *gen) enum(name string, d schema) {
	if desc, ok := d["description"].(string); ok {
		g.comment("", name+": "+desc)
	}
	g.p("type %s string\n", name)
	g.p("// The values of %s.", name)
	g.p("const (")
	for _, v := range enumValues(d) {
		g.p("\t%s%s %s = %q", name, goName(v), name, v)
	}
	g.p(")\n")
}

// event writes the Event union: every variant's fields in one struct, Type saying which.
func (g *gen) event(name string, d schema) {
	fields := map[string]any{}
	var order []string
	var doc []string
	var types []string
	for _, v := range d["oneOf"].([]any) {
		vs := v.(schema)
		props := vs["properties"].(schema)
		typ := props["type"].(schema)["const"].(string)
		types = append(types, typ)
		var names []string
		for _, k := range sortedKeys(props) {
			if k == "type" {
				continue
			}
			names = append(names, goName(k))
			if prev, ok := fields[k]; ok {
				a, _ := g.goType(prev, true)
				b, _ := g.goType(props[k], true)
				if a != b {
					log.Fatalf("event field %s is %s in one variant and %s in another", k, a, b)
				}
				continue
			}
			fields[k] = props[k]
			order = append(order, k)
		}
		desc, _ := vs["description"].(string)
		doc = append(doc, fmt.Sprintf("\t%-20s %s: %s", typ, strings.Join(names, ", "), strings.TrimSpace(strings.SplitN(desc, "\n", 2)[0])))
	}
	g.p("// EventType says which event an Event is; compare it with the Event* constants.")
	g.p("type EventType string\n")
	g.p("// The event types of this version; later versions may add more.")
	g.p("const (")
	for _, t := range types {
		g.p("\tEvent%s EventType = %q", goName(t), t)
	}
	g.p(")\n")
	g.p("// Event is one progress or audit event of a call, the contract's Event union flattened:")
	g.p("// Type says which fields are set. New types may be added: ignore the ones you do not know.")
	g.p("//")
	for _, line := range doc {
		g.p("//%s", line)
	}
	g.p("type %s struct {", name)
	g.p("\tType EventType `json:\"type\"`")
	for _, k := range order {
		typ, _ := g.goType(fields[k], true)
		g.p("\t%s %s `json:\"%s,omitempty\"`", goName(k), typ, k)
	}
	g.p("\t// Raw is the event's JSON document as the library sent it.")
	g.p("\tRaw json.RawMessage `json:\"-\"`")
	g.p("}\n")
}

func (g *gen) method(op operation) {
	name := goName(op.Name)
	optType := refName(op.Options)
	outType, _ := g.goType(op.Output, true)
	isStruct := g.c.Defs[outType]["properties"] != nil
	ret := outType
	if isStruct {
		ret = "*" + outType
	}
	recv, call := "", "invoke(ctx, nil, "
	if op.NeedsStore {
		recv, call = "(s *Store) ", "s.invoke(ctx, "
	}
	params, opts := "ctx context.Context, ", "opts"
	if props, _ := g.c.Defs[optType]["properties"].(schema); len(props) == 0 {
		opts = "nil"
	} else {
		params += "opts " + optType + ", "
	}
	g.comment("", fmt.Sprintf("%s runs %q: %s\nOptions %s, result %s; call may hold Credentials and OnEvent.", name, op.Name, op.Summary, optType, outType))
	g.p("func %s%s(%scall ...CallOption) (%s, error) {", recv, name, params, ret)
	g.p("\tvar out %s", outType)
	if isStruct {
		g.p("\tif err := %s%q, %s, &out, call); err != nil {", call, op.Name, opts)
		g.p("\t\treturn nil, err")
		g.p("\t}")
		g.p("\treturn &out, nil")
	} else {
		g.p("\terr := %s%q, %s, &out, call)", call, op.Name, opts)
		g.p("\treturn out, err")
	}
	g.p("}\n")
}

func (g *gen) file() []byte {
	for _, op := range g.c.Operations {
		g.walkOptions(op.Options, false)
	}
	g.p("// Code generated by internal/gen from contract/idpkit.json; DO NOT EDIT.\n")
	g.p("package idpkit\n")
	g.p("import (\n\t\"context\"\n\t\"encoding/json\"\n\t\"time\"\n)\n")
	g.p("// ContractVersion is the idpkit version of the contract these types mirror.")
	g.p("const ContractVersion = %q\n", g.c.Version)
	for _, op := range g.c.Operations {
		g.method(op)
	}
	for _, name := range sortedKeys(g.c.Defs) {
		d := g.c.Defs[name]
		switch {
		case name == "Event":
			g.event(name, d)
		case len(enumValues(d)) > 0:
			g.enum(name, d)
		case d["type"] == "object":
			g.object(name, d)
		default:
			log.Fatalf("$defs/%s: unsupported shape", name)
		}
	}
	return g.b.Bytes()
}
