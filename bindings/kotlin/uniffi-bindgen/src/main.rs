//! uniffi's `uniffi-bindgen` command (library mode): reads the component's metadata out of
//! libidpkit_uniffi.so and writes the Kotlin half. Run by bindings/kotlin/generate.sh.
fn main() {
    uniffi::uniffi_bindgen_main()
}
