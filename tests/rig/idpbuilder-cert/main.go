// Command idpbuilder-cert writes the certificate and key idpbuilder creates for its ingress,
// made the way idpbuilder makes them: the body of createSelfSignedCertificate in
// github.com/cnoe-io/idpbuilder pkg/build/tls.go (constants certificateOrgName and
// certificateValidLength from the same file), standard library only. One ECDSA P-256
// certificate, self-signed, IsCA with basicConstraints valid, keyUsage digitalSignature and
// certSign, extKeyUsage serverAuth, subject O=cnoe.io, the SANs given as arguments.
//
// Usage: idpbuilder-cert CERT.pem KEY.pem SAN...
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

const (
	certificateOrgName     = "cnoe.io"
	certificateValidLength = time.Hour * 8766
)

func createSelfSignedCertificate(sans []string) ([]byte, []byte, error) {
	privateKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating private key: %w", err)
	}
	keyUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	notBefore := time.Now()
	notAfter := notBefore.Add(certificateValidLength)
	serialNumberLimit := new(big.Int).Lsh(big.NewInt(1), 128)
	serialNumber, err := rand.Int(rand.Reader, serialNumberLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("generating certificate serial number: %w", err)
	}
	cert := x509.Certificate{
		SerialNumber:          serialNumber,
		Subject:               pkix.Name{Organization: []string{certificateOrgName}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              sans,
	}
	certBytes, err := x509.CreateCertificate(rand.Reader, &cert, &cert, &privateKey.PublicKey, privateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("creating certificate: %w", err)
	}
	var certB, keyB bytes.Buffer
	if err := pem.Encode(&certB, &pem.Block{Type: "CERTIFICATE", Bytes: certBytes}); err != nil {
		return nil, nil, err
	}
	privateKeyBytes, err := x509.MarshalPKCS8PrivateKey(privateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal private key: %w", err)
	}
	if err := pem.Encode(&keyB, &pem.Block{Type: "PRIVATE KEY", Bytes: privateKeyBytes}); err != nil {
		return nil, nil, err
	}
	return certB.Bytes(), keyB.Bytes(), nil
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: idpbuilder-cert CERT.pem KEY.pem SAN...")
		os.Exit(2)
	}
	cert, key, err := createSelfSignedCertificate(os.Args[3:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "idpbuilder-cert:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], key, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "idpbuilder-cert:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], cert, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "idpbuilder-cert:", err)
		os.Exit(1)
	}
}
