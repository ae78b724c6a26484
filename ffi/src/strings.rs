//! UTF-8 strings in and out.

use crate::boundary::{guard_infallible, Failure};
use idpkit::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::ffi::{c_char, CStr, CString};

/// Borrows a required NUL-terminated UTF-8 argument.
pub(crate) fn arg_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::Null(name));
    }
    // SAFETY: a non-NULL string argument is NUL-terminated and lives for the call (documented).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|e| Failure::Core(Error::invalid(format!("{name}: not valid UTF-8 ({e})"))))
}

/// Borrows an optional argument: NULL means absent.
pub(crate) fn opt_str<'a>(
    p: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, name).map(Some)
    }
}

/// Parses an optional JSON object of a core options type (NULL: its defaults).
///
/// Several core types accept unknown fields (they flatten `TrustOptions`), so keys are
/// checked here against the serialized default: a misspelt option must not be ignored, and
/// a `"password"` put into the JSON must not silently mean anonymous access.
pub(crate) fn options_json<T>(p: *const c_char, name: &'static str) -> Result<T, Failure>
where
    T: Default + Serialize + DeserializeOwned,
{
    let Some(text) = opt_str(p, name)? else {
        return Ok(T::default());
    };
    let value: Value = serde_json::from_str(text).map_err(|e| Error::from(e).context(name))?;
    let Value::Object(map) = value else {
        return Err(Error::invalid(format!("{name}: expected a JSON object")).into());
    };
    check_known_fields::<T>(&map, name)?;
    serde_json::from_value(Value::Object(map))
        .map_err(|e| Error::invalid(format!("{name}: {e}")).into())
}

fn check_known_fields<T: Default + Serialize>(
    map: &Map<String, Value>,
    name: &str,
) -> Result<(), Failure> {
    let known = match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(key) = map.keys().find(|k| !known.contains_key(*k)) {
        let names: Vec<String> = known.keys().map(|k| format!("`{k}`")).collect();
        let hint = if matches!(key.as_str(), "username" | "password" | "token") {
            " (credentials are separate arguments, never JSON)"
        } else {
            ""
        };
        return Err(Error::invalid(format!(
            "{name}: unknown field `{key}`{hint}, expected one of {}",
            names.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// A plain string result the caller frees with `idpkit_string_free`.
pub(crate) fn string_out(s: &str, what: &str) -> Result<*mut c_char, Failure> {
    let c = CString::new(s).map_err(|_| Error::internal(format!("{what} contains a NUL byte")))?;
    Ok(c.into_raw())
}

/// Serializes `value` as a JSON document the caller frees with `idpkit_string_free`.
pub(crate) fn json_out<T: Serialize>(value: &T) -> Result<*mut c_char, Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("serializing the result: {e}")))?;
    // serde_json escapes NUL as \u0000, so the text never contains a raw NUL.
    let c = CString::new(text).map_err(|_| Error::internal("result contains a NUL byte"))?;
    Ok(c.into_raw())
}

/// Frees a string returned by this library (every `char **..._out`). NULL is accepted and
/// ignored. Do not pass strings from anywhere else, and free each string once.
#[no_mangle]
pub extern "C" fn idpkit_string_free(s: *mut c_char) {
    guard_infallible((), || {
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` in this library (documented).
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
