package idpkit_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"idpkit.dev/idpkit"
)

// Printing a secrets result or options in any of fmt's forms never shows a value; JSON (what
// a program asks for on purpose) still carries it.
func TestSecretFieldsNeverPrint(t *testing.T) {
	const value = "hunter2-5f1c"
	opts := idpkit.SecretsParseOptions{Text: "DB_PASSWORD=" + value, Origin: ".env"}
	parsed := idpkit.SecretsParsed{Values: map[string]string{"DB_PASSWORD": value}}
	decrypted := idpkit.SecretsDecrypted{Values: json.RawMessage(`{"DB_PASSWORD":"` + value + `"}`)}
	for _, v := range []any{opts, &opts, parsed, &parsed, decrypted, &decrypted} {
		for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, value) || !strings.Contains(out, "<redacted>") {
				t.Errorf("%s of %T: %s", verb, v, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(opts), `Origin:.env`) {
		t.Errorf("the other fields still print: %v", opts)
	}
	b, _ := json.Marshal(parsed)
	if !strings.Contains(string(b), value) {
		t.Errorf("JSON keeps the values: %s", b)
	}
}
