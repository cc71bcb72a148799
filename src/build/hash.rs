//! sha256 of bytes and files, and the keyed hashes the build's cache keys are made of.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The lowercase hex sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hex sha256 of a file's content.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A hash over a sequence of fields. Each field is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` hash differently.
pub struct Keyed(Sha256);

impl Keyed {
    /// Starts a hash in a domain (`"object"`, `"manifest"`...), so keys of different kinds never
    /// collide.
    pub fn new(domain: &str) -> Keyed {
        let mut k = Keyed(Sha256::new());
        k.field(domain.as_bytes());
        k
    }

    pub fn field(&mut self, bytes: &[u8]) -> &mut Keyed {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Keyed {
        self.field(s.as_bytes())
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// File hashes memoised for the length of one build: the programs of a project share most of
/// their headers, and each is read once.
#[derive(Default)]
pub struct FileHashes {
    known: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl FileHashes {
    /// The sha256 of `path`, or `None` when it cannot be read (deleted, renamed).
    pub fn get(&self, path: &Path) -> Option<String> {
        if let Some(h) = self.known.lock().ok().and_then(|m| m.get(path).cloned()) {
            return h;
        }
        let h = file_sha256(path).ok();
        if let Ok(mut m) = self.known.lock() {
            m.insert(path.to_path_buf(), h.clone());
        }
        h
    }

    /// The hash taken earlier in this build, if `path` was hashed: `Some(None)` if it was
    /// unreadable then.
    pub fn peek(&self, path: &Path) -> Option<Option<String>> {
        self.known.lock().ok().and_then(|m| m.get(path).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_delimited() {
        let mut a = Keyed::new("t");
        a.str("ab").str("c");
        let mut b = Keyed::new("t");
        b.str("a").str("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn sha256_of_empty_is_the_known_value() {
        assert_eq!(
            sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
