// TEMPORARY STUB (helper-2 replaces this file)
use crate::error::Result;
use std::path::Path;
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    pats: Vec<String>,
}
impl IgnoreMatcher {
    pub fn new<S: AsRef<str>>(p: &[S]) -> Result<Self> {
        Ok(Self {
            pats: p.iter().map(|s| s.as_ref().to_string()).collect(),
        })
    }
    pub fn for_context<S: AsRef<str>>(_c: &Path, extra: &[S]) -> Result<Self> {
        Self::new(extra)
    }
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.pats.iter().any(|p| p == rel)
    }
    pub fn has_exceptions(&self) -> bool {
        false
    }
    pub fn can_skip_dir(&self, rel: &str) -> bool {
        self.is_excluded(rel)
    }
    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }
}
