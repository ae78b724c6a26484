//! SOPS files decrypted natively, no `sops` binary (docs/decisions/0014): the stores in
//! [`tree`], the metadata in [`metadata`], the data key in [`keys`], the values and the MAC
//! in [`walk`] and [`cipher`].

pub(crate) mod cipher;
pub(crate) mod keys;
pub(crate) mod metadata;
pub(crate) mod tree;
pub(crate) mod walk;

use crate::error::Result;
use crate::secrets::redact::SecretValue;
pub(crate) use keys::KeySources;
pub(crate) use tree::Store;

/// What [`decrypt`] found.
pub(crate) enum Decrypted {
    /// The top-level map, decrypted.
    Sops(Vec<(String, SecretValue)>),
    /// The file has no sops metadata: it is not encrypted.
    NotSops,
}

/// Decrypts `text`, read with `store`; `file` names it in errors.
pub(crate) fn decrypt(
    store: Store,
    text: &str,
    file: &str,
    keys: &KeySources,
) -> Result<Decrypted> {
    let mut top = tree::parse(store, text, file)?;
    let Some(meta) = metadata::extract(&mut top, store == Store::Dotenv, file)? else {
        return Ok(Decrypted::NotSops);
    };
    let ids = keys::load(keys)?;
    let key = keys::data_key(&meta, &ids, file)?;
    let mut w = walk::Walk::new(&key, &meta.rule, meta.mac_only_encrypted, file);
    let values = w.map(top)?;
    w.verify(&meta.mac, &meta.lastmodified)?;
    Ok(Decrypted::Sops(values))
}
