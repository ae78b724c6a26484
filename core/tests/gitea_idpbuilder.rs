//! The whole Gitea flow against the certificate idpbuilder really serves (the rig's Gitea,
//! behind nginx, presents one self-signed CA certificate as its leaf; the rig's kube-apiserver
//! holds it in both `idpbuilder-cert` Secrets): untrusted at first with an error that says so,
//! then `extract_ca` from the cluster, Gitea's credentials from the cluster, and push, pull,
//! tags, copy and delete trusting only what was extracted. Fails when the rig is not up.

mod common;

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::{self, ClusterOptions, TrustOptions, Verdict};
use idpkit::{BuildOptions, ErrorKind, Store};

/// Trust from `certs_d` only: no platform roots, no CA files, no default certs.d.
fn only(certs_d: &std::path::Path) -> TrustOptions {
    TrustOptions {
        certs_d: Some(vec![certs_d.to_path_buf()]),
        no_platform_roots: true,
        ..Default::default()
    }
}

#[test]
fn gitea_behind_idpbuilders_certificate_from_extract_to_delete() {
    let rig = common::rig(&["GITEA_REGISTRY"]);
    let gitea = rig["GITEA_REGISTRY"].clone();
    let tmp = tempfile::tempdir().unwrap();
    let certs_d = tmp.path().join("certs.d");
    std::fs::create_dir_all(&certs_d).unwrap();

    // Not trusted yet: the error says what the host serves and how to trust exactly that.
    let report = trust::check(&gitea, &only(&certs_d), None).unwrap();
    assert_eq!(report.verdict, Verdict::UnknownIssuer, "{report:?}");
    assert!(
        report.message.contains("self-signed CA certificate")
            && report.message.contains("idpkit trust extract")
            && !report.message.contains("the CA that signed it"),
        "{}",
        report.message
    );

    let cluster = ClusterOptions {
        kubeconfig: Some(rig["KUBECONFIG"].clone().into()),
        host: gitea.clone(),
        certs_d: Some(certs_d.clone()),
        ..Default::default()
    };
    let extracted = trust::extract_ca(&cluster, None).unwrap();
    assert_eq!(extracted.source, "default/idpbuilder-cert ca.crt");
    assert_eq!(extracted.subject, "O=cnoe.io");
    assert_eq!(
        std::fs::read(&extracted.path).unwrap(),
        std::fs::read(&rig["GITEA_CA"]).unwrap(),
        "the extracted certificate is the one Gitea serves"
    );

    let report = trust::check(&gitea, &only(&certs_d), None).unwrap();
    assert_eq!(report.verdict, Verdict::Trusted, "{}", report.message);
    assert!(
        report.message.contains("one of your trust anchors"),
        "{}",
        report.message
    );

    let login = trust::gitea_credential(&cluster, None).unwrap();
    assert_eq!(login.username, rig["GITEA_USER"]);
    let opts = RegistryOptions {
        trust: only(&certs_d),
        credential: Some(Credential::basic(&login.username, &login.secret, "cluster")),
        ..Default::default()
    };

    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), b"hello from the idpbuilder flow\n").unwrap();
    let repo = format!(
        "{gitea}/{}/rust-idpbuilder-{}",
        login.username.to_lowercase(),
        std::process::id()
    );
    let v1 = format!("{repo}:v1");
    let store = Store::open(tmp.path().join("store")).unwrap();
    let built = store
        .build(
            &BuildOptions {
                context: ctx.clone(),
                tags: vec![v1.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();

    let pushed = store.push(&v1, None, &opts, None).unwrap();
    assert_eq!(pushed.digest, built.digest);

    let other = Store::open(tmp.path().join("other")).unwrap();
    let pulled = other.pull(&v1, &opts, None).unwrap();
    assert_eq!(pulled.digest, built.digest);

    let v2 = format!("{repo}:v2");
    let copied = registry::copy(&v1, &v2, &opts, None).unwrap();
    assert_eq!(copied.digest, built.digest);
    let mut tags = registry::list_tags(&repo, &opts, None).unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);

    // v1 and v2 are one manifest: deleting v2 alone is refused, naming v1; forced, both go.
    let shared = registry::delete(&v2, false, &opts, None).unwrap_err();
    assert_eq!(shared.kind, ErrorKind::Conflict, "{}", shared.message);
    assert!(
        shared.message.contains("also tagged v1"),
        "{}",
        shared.message
    );
    let deleted = registry::delete(&v2, true, &opts, None).unwrap();
    assert_eq!(deleted, built.digest);
    let gone = other.pull(&v2, &opts, None).unwrap_err();
    assert_eq!(gone.kind, ErrorKind::NotFound, "{}", gone.message);
}

/// What kind and idpbuilder write: the CA and a client certificate embedded in the
/// kubeconfig. The same Secrets come back as with the token kubeconfig; without the client
/// certificate the API server refuses the read (AUTH), and nothing is installed.
#[test]
fn a_client_certificate_kubeconfig_reads_the_same_secrets() {
    let rig = common::rig(&["GITEA_REGISTRY"]);
    let tmp = tempfile::tempdir().unwrap();
    let certs_d = tmp.path().join("certs.d");
    let cluster = ClusterOptions {
        kubeconfig: Some(rig["KUBECONFIG_CERT"].clone().into()),
        host: rig["GITEA_REGISTRY"].clone(),
        certs_d: Some(certs_d.clone()),
        ..Default::default()
    };
    let extracted = trust::extract_ca(&cluster, None).unwrap();
    assert_eq!(
        std::fs::read(&extracted.path).unwrap(),
        std::fs::read(&rig["GITEA_CA"]).unwrap()
    );
    let login = trust::gitea_credential(&cluster, None).unwrap();
    assert_eq!(login.username, rig["GITEA_USER"]);

    // The same kubeconfig without its client certificate: the API server says no.
    let text = std::fs::read_to_string(&rig["KUBECONFIG_CERT"]).unwrap();
    let anonymous: String = text
        .lines()
        .filter(|l| !l.contains("client-certificate-data") && !l.contains("client-key-data"))
        .map(|l| format!("{l}\n"))
        .collect();
    let stripped = tmp.path().join("kubeconfig-without-cert");
    std::fs::write(&stripped, anonymous).unwrap();
    let other = tmp.path().join("other-certs.d");
    let e = trust::extract_ca(
        &ClusterOptions {
            kubeconfig: Some(stripped),
            certs_d: Some(other.clone()),
            ..cluster
        },
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        !other.exists(),
        "something was installed without a credential"
    );
}
