//! Prints the call contract (every operation's options and output as JSON Schema) that the
//! front ends' type generators read: `cargo run -p idpkit --example contract > contract/idpkit.json`.
fn main() {
    let text = serde_json::to_string_pretty(&idpkit::ops::contract()).expect("contract");
    println!("{text}");
}
