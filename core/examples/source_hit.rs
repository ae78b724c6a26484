//! Times a warm hit of the source cache in-process (bench/source.sh): the entry is fetched
//! once, then looked up RUNS times; prints the median in milliseconds.
//!
//! Usage: source_hit CACHE URL DIGEST CA_FILE [RUNS]

use idpkit::gitops::{fetch_artifact, CacheOptions, FetchArtifactOptions};
use idpkit::trust::TrustOptions;
use idpkit::Call;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let runs: usize = a.get(5).and_then(|r| r.parse().ok()).unwrap_or(50);
    let mut opts = FetchArtifactOptions {
        url: a[2].clone(),
        digest: a[3].clone(),
        cache: CacheOptions {
            cache: Some(a[1].clone().into()),
        },
        trust: TrustOptions {
            ca_files: vec![a[4].clone().into()],
            ..Default::default()
        },
        ..Default::default()
    };
    opts.limits.max_download_size = 0;
    opts.limits.untar.max_untar_size = 0;
    fetch_artifact(&opts, &Call::new()).expect("first fetch");
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            let r = fetch_artifact(&opts, &Call::new()).expect("hit");
            assert!(r.hit);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{:.3}", times[times.len() / 2]);
}
