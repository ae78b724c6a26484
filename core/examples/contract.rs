//! Prints the call contract (every operation's options and output as JSON Schema) that the
//! front ends' type generators read, or with `--markdown` the operations reference:
//! `cargo run -p idpkit --example contract > contract/idpkit.json`,
//! `cargo run -p idpkit --example contract -- --markdown > docs/operations.md`.
fn main() {
    if std::env::args().any(|a| a == "--markdown") {
        print!("{}", idpkit::ops::markdown());
        return;
    }
    let text = serde_json::to_string_pretty(&idpkit::ops::contract()).expect("contract");
    println!("{text}");
}
