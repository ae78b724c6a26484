package idpkit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// secretsKit is a fresh age identity from the real age-keygen and the rig's real sops to
// encrypt files for it.
type secretsKit struct {
	dir, sops, keyFile, recipient string
}

func newSecretsKit(t *testing.T) secretsKit {
	t.Helper()
	sops := rigEnv("IDPKIT_RIG_SOPS")
	if _, err := os.Stat(sops); sops == "" || err != nil {
		t.Fatalf("the rig's sops (IDPKIT_RIG_SOPS=%q) is missing: start the rig with tests/rig/up", sops)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.txt")
	if out, err := exec.Command("age-keygen", "-o", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen (the rig's setup installs it): %v: %s", err, out)
	}
	text, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	k := secretsKit{dir: dir, sops: sops, keyFile: keyFile}
	for _, line := range strings.Split(string(text), "\n") {
		if r, ok := strings.CutPrefix(line, "# public key: "); ok {
			k.recipient = r
		}
	}
	return k
}

// encrypt writes name holding plain, encrypted by sops for the kit's identity.
func (k secretsKit) encrypt(t *testing.T, name, plain string) string {
	t.Helper()
	kind := "dotenv"
	if strings.HasSuffix(name, ".yaml") {
		kind = "yaml"
	}
	src := filepath.Join(k.dir, "plain-"+name)
	if err := os.WriteFile(src, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.sops, "encrypt", "--age", k.recipient, "--input-type", kind, "--output-type", kind, src)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOPS_AGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops encrypt: %v", err)
	}
	_ = os.Remove(src)
	dst := filepath.Join(k.dir, name)
	if err := os.WriteFile(dst, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A sops-made file decrypts to its values with the right key; a changed MAC is ErrIntegrity
// without a value in the message.
func TestSecretsDecryptAndTamper(t *testing.T) {
	k := newSecretsKit(t)
	f := k.encrypt(t, ".env.sops", "DB_PASSWORD=go-hunter2-0e6c\nCMD=$(rm -rf ~)\n")
	ctx := context.Background()
	got, err := idpkit.SecretsDecrypt(ctx, idpkit.SecretsDecryptOptions{Path: f, AgeKeyFile: k.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]string
	if err := json.Unmarshal(got.Values, &values); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DB_PASSWORD": "go-hunter2-0e6c", "CMD": "$(rm -rf ~)"}
	if !got.Encrypted || got.Format != "dotenv" || !reflect.DeepEqual(values, want) {
		t.Fatalf("decrypted %+v, values %v", got, values)
	}

	text, _ := os.ReadFile(f)
	var mac string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "sops_mac=") {
			mac = line
		}
	}
	at := strings.Index(mac, "data:") + 5
	flip := "A"
	if mac[at] == 'A' {
		flip = "B"
	}
	tampered := filepath.Join(k.dir, "tampered.env")
	_ = os.WriteFile(tampered, []byte(strings.Replace(string(text), mac, mac[:at]+flip+mac[at+1:], 1)), 0o600)
	_, err = idpkit.SecretsDecrypt(ctx, idpkit.SecretsDecryptOptions{Path: tampered, AgeKeyFile: k.keyFile})
	if !errors.Is(err, idpkit.ErrIntegrity) {
		t.Fatalf("tampered: want ErrIntegrity, got %v", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v", err, err), "go-hunter2-0e6c") {
		t.Fatalf("the error shows a value: %v", err)
	}
}

// Dotenv text parses by dotenv's rules: $(rm -rf ~) is text, ${B} expands, nothing runs.
func TestSecretsParse(t *testing.T) {
	ctx := context.Background()
	got, err := idpkit.SecretsParse(ctx, idpkit.SecretsParseOptions{Text: "B=2\nCMD=$(rm -rf ~)\nA=\"${B} x\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"B": "2", "CMD": "$(rm -rf ~)", "A": "2 x"}
	if !reflect.DeepEqual(got.Values, want) {
		t.Fatalf("parsed %v, want %v", got.Values, want)
	}
	_, err = idpkit.SecretsParse(ctx, idpkit.SecretsParseOptions{Text: "A=1\nB=\"go-open-7a21\n", Origin: ".env.local"})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.HasPrefix(idpkitMessage(err), ".env.local line 2:") ||
		strings.Contains(err.Error(), "go-open-7a21") {
		t.Fatalf("unclosed quote: %v", err)
	}
}

// idpkitMessage is the core's message of an *idpkit.Error.
func idpkitMessage(err error) string {
	var e *idpkit.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// SecretsPush creates the Secret from a plain and a SOPS tier (the later wins), read back
// with the test's own client; a second push without the plain tier drops its key.
func TestSecretsPushCreatesTheSecret(t *testing.T) {
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	kubeconfig := rigEnv("IDPKIT_RIG_KUBECONFIG")
	if kubeconfig == "" {
		t.Fatalf("peer kube-apiserver: IDPKIT_RIG_KUBECONFIG is missing: start the rig with tests/rig/up")
	}
	k := newSecretsKit(t)
	const ns = "idpkit-go-secrets-test"
	kubeApply(t, "/api/v1/namespaces/"+ns, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	plain := filepath.Join(k.dir, ".env.claude-sandbox")
	_ = os.WriteFile(plain, []byte("SHARED=go-plain-52f0\nPLAIN_ONLY=go-plain-only-93ad\n"), 0o600)
	enc := k.encrypt(t, ".env.sops", "SHARED=go-sops-d41e\n")
	name := fmt.Sprintf("go-push-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	opts := idpkit.SecretsPushOptions{
		Namespace: ns, Name: name, Files: []string{plain, enc}, AgeKeyFile: k.keyFile,
		Cluster: idpkit.KubeOptions{Kubeconfig: kubeconfig},
	}
	got, err := idpkit.SecretsPush(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created || got.Namespace != ns || got.Name != name || !reflect.DeepEqual(got.Keys, []string{"PLAIN_ONLY", "SHARED"}) {
		t.Fatalf("pushed %+v", got)
	}
	var secret struct {
		Metadata struct {
			Labels          map[string]string `json:"labels"`
			ResourceVersion string            `json:"resourceVersion"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if !kubeGet(t, "/api/v1/namespaces/"+ns+"/secrets/"+name, &secret) {
		t.Fatalf("Secret %s/%s does not exist", ns, name)
	}
	data := map[string]string{}
	for key, v := range secret.Data {
		b, _ := base64.StdEncoding.DecodeString(v)
		data[key] = string(b)
	}
	if want := map[string]string{"SHARED": "go-sops-d41e", "PLAIN_ONLY": "go-plain-only-93ad"}; !reflect.DeepEqual(data, want) {
		t.Fatalf("the Secret holds %v, want %v", data, want)
	}
	if secret.Metadata.Labels["app.kubernetes.io/managed-by"] != "idpkit" || secret.Metadata.ResourceVersion != got.ResourceVersion {
		t.Fatalf("metadata %+v, result %+v", secret.Metadata, got)
	}

	opts.Files = []string{enc}
	again, err := idpkit.SecretsPush(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || !reflect.DeepEqual(again.Keys, []string{"SHARED"}) {
		t.Fatalf("second push %+v", again)
	}
	secret.Data = nil
	kubeGet(t, "/api/v1/namespaces/"+ns+"/secrets/"+name, &secret)
	if _, ok := secret.Data["PLAIN_ONLY"]; ok || len(secret.Data) != 1 {
		t.Fatalf("after the second push the Secret holds %v", secret.Data)
	}
}
