package idpkit

import (
	"fmt"
	"reflect"
	"strings"
)

// withRedacted prints a struct as fmt's %+v would, with the named fields (the contract's
// x-secret ones: decrypted values, dotenv text) shown as <redacted>. The generated String
// and GoString methods of such types call it, so logging a result never leaks a secret.
func withRedacted(v any, secret ...string) string {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var b strings.Builder
	b.WriteString(rt.Name())
	b.WriteString("{")
	for i := 0; i < rt.NumField(); i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		f := rt.Field(i)
		b.WriteString(f.Name)
		b.WriteString(":")
		hidden := false
		for _, s := range secret {
			hidden = hidden || s == f.Name
		}
		if hidden {
			b.WriteString(redacted)
		} else {
			fmt.Fprintf(&b, "%+v", rv.Field(i).Interface())
		}
	}
	b.WriteString("}")
	return b.String()
}
