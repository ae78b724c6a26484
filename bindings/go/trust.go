package idpkit

/*
#include <stdlib.h>
#include <idpkit.h>
*/
import "C"

import "context"

// TrustOptions say what to trust for TrustCheck; the same fields as the trust part of
// RegistryOptions.
type TrustOptions struct {
	CAFiles         []string `json:"ca_files,omitempty"`
	InsecureHosts   []string `json:"insecure_hosts,omitempty"`
	CertsD          []string `json:"certs_d"`
	NoPlatformRoots bool     `json:"no_platform_roots,omitempty"`
}

// Verdict is the outcome of a TLS handshake.
type Verdict string

// The verdicts of TrustCheck.
const (
	VerdictTrusted            Verdict = "trusted"
	VerdictUnknownIssuer      Verdict = "unknown_issuer"
	VerdictExpired            Verdict = "expired"
	VerdictNotYetValid        Verdict = "not_yet_valid"
	VerdictWrongHost          Verdict = "wrong_host"
	VerdictClientCertRequired Verdict = "client_cert_required"
	VerdictBadCertificate     Verdict = "bad_certificate"
	VerdictNotTLS             Verdict = "not_tls"
	VerdictUnreachable        Verdict = "unreachable"
)

// CertInfo describes one certificate of a presented chain.
type CertInfo struct {
	Subject    string   `json:"subject"`
	Issuer     string   `json:"issuer"`
	NotBefore  string   `json:"not_before"`
	NotAfter   string   `json:"not_after"`
	Names      []string `json:"names"`
	SelfSigned bool     `json:"self_signed"`
	SHA256     string   `json:"sha256"`
}

// TrustReport is what TrustCheck found.
type TrustReport struct {
	Host     string     `json:"host"`
	Verdict  Verdict    `json:"verdict"`
	Trusted  bool       `json:"trusted"`
	Insecure bool       `json:"insecure"`
	Chain    []CertInfo `json:"chain"`
	// Sources are the trust sources consulted.
	Sources []string `json:"sources"`
	// Message explains a verdict other than trusted, with the command that fixes it.
	Message string `json:"message"`
}

// ClusterOptions say where the cluster is and which host its CA is for.
type ClusterOptions struct {
	// Kubeconfig is the kubeconfig file; "" means $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; "" means its current-context.
	Context string `json:"context,omitempty"`
	// Host (host[:port]) the CA is installed for; "" means gitea.cnoe.localtest.me:8443.
	Host string `json:"host,omitempty"`
	// CertsD is the certs.d root to install into; "" means idpkit's own.
	CertsD string `json:"certs_d,omitempty"`
}

// ExtractResult is what TrustExtract installed.
type ExtractResult struct {
	Host string `json:"host"`
	// Path is the file written (.../certs.d/HOST/ca.crt).
	Path string `json:"path"`
	// Source is the Secret it came from ("namespace/name key").
	Source   string `json:"source"`
	Subject  string `json:"subject"`
	NotAfter string `json:"not_after"`
}

// TrustCheck connects to host (host[:port], default port 443) and reports its chain and
// whether idpkit trusts it, with the trust a registry call would use. An untrusted host is
// a report (Trusted false, Message with the fix), not an error. Cancelling ctx stops it
// within a tenth of a second.
func TrustCheck(ctx context.Context, host string, opts TrustOptions) (*TrustReport, error) {
	if err := started(ctx); err != nil {
		return nil, err
	}
	copts, free1, err := jsonArg(opts, "trust options")
	if err != nil {
		return nil, err
	}
	defer free1()
	chost, free2 := cstr(host, false)
	defer free2()
	report, err := jsonResult[TrustReport](func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_trust_check(chost, copts, cancel, out, cerr)
		})
	})
	return report, withCause(ctx, err)
}

// TrustAdd validates the PEM CA certificate caFile and installs it for host as
// CERTS_D/HOST/ca.crt, where later calls to that host trust it; certsD "" is idpkit's own
// (~/.config/idpkit/certs.d). It returns the file written.
func TrustAdd(host, caFile, certsD string) (string, error) {
	chost, free1 := cstr(host, false)
	defer free1()
	cca, free2 := cstr(caFile, false)
	defer free2()
	cdir, free3 := cstr(certsD, true)
	defer free3()
	return stringAnswer(func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return C.idpkit_trust_add(chost, cca, cdir, out, cerr)
	})
}

// TrustExtract reads idpbuilder's CA from the cluster (Secret default/idpbuilder-cert key
// ca.crt, else ingress-nginx/idpbuilder-cert key tls.crt), validates it and installs it for
// the cluster's Gitea host as TrustAdd does. Cancelling ctx stops it soon after, before
// anything is installed.
func TrustExtract(ctx context.Context, cluster ClusterOptions) (*ExtractResult, error) {
	if err := started(ctx); err != nil {
		return nil, err
	}
	ccluster, free, err := jsonArg(cluster, "cluster options")
	if err != nil {
		return nil, err
	}
	defer free()
	result, err := jsonResult[ExtractResult](func(out **C.char, cerr **C.idpkit_error) C.idpkit_result {
		return cancellable(ctx, func(cancel *C.idpkit_cancel) C.idpkit_result {
			return C.idpkit_trust_extract(ccluster, cancel, out, cerr)
		})
	})
	return result, withCause(ctx, err)
}

// started fails with ErrCancelled when ctx is already done.
func started(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindCancelled, Message: "operation cancelled: " + err.Error(), cause: err}
	}
	return nil
}
