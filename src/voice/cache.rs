//! The on-disk cache of synthesized speech.
//!
//! Keyed by a SHA-256 of the engine's identity (engine, voice, speed...) and the text, so a
//! change of any of them makes a new entry. Entries are 48 kHz mono WAV files already trimmed,
//! written atomically (temporary file, then rename), so a crash never leaves half a prompt.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::clip::Clip;

/// A directory of cached clips.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under `cache_dir/speech`.
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("speech"),
        }
    }

    fn path(&self, identity: &str, text: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(identity.as_bytes());
        h.update([0u8]);
        h.update(text.as_bytes());
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{}.wav", &hex[..32]))
    }

    /// The cached clip's file and length, if present and readable (only its header is read).
    pub fn entry(&self, identity: &str, text: &str) -> Option<Cached> {
        let path = self.path(identity, text);
        let reader = hound::WavReader::open(&path).ok()?;
        let spec = reader.spec();
        if spec.channels != 1
            || spec.sample_rate != crate::clip::SAMPLE_RATE
            || spec.bits_per_sample != 16
        {
            return None;
        }
        let frames = reader.len() as u64;
        // A file cut short (a crash while writing is ruled out by the rename, but disks fail)
        // is treated as missing.
        let expected = 44 + frames * 2;
        if std::fs::metadata(&path).ok()?.len() < expected {
            return None;
        }
        Some(Cached {
            path,
            length: crate::clip::to_duration(frames),
        })
    }

    /// The cached clip, if present and readable.
    pub fn get(&self, identity: &str, text: &str) -> Option<Clip> {
        self.entry(identity, text)
            .and_then(|c| Clip::read_wav(&c.path).ok())
    }

    /// Stores a clip; returns where.
    pub fn put(&self, identity: &str, text: &str, clip: &Clip) -> Result<Cached, String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let p = self.path(identity, text);
        clip.save_wav(&p)?;
        Ok(Cached {
            path: p,
            length: clip.duration(),
        })
    }
}

/// A clip in the cache: where it is and how long it plays.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    /// The WAV file (48 kHz mono 16-bit).
    pub path: PathBuf,
    /// How long it plays.
    pub length: std::time::Duration,
}

impl Cached {
    /// Reads the clip.
    pub fn load(&self) -> Result<Clip, String> {
        Clip::read_wav(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_finds_by_identity_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let clip = Clip::new(vec![0.0, 0.5, -0.5, 0.25]);
        assert!(cache.get("e1", "hello").is_none());
        let stored = cache.put("e1", "hello", &clip).unwrap();
        assert_eq!(cache.entry("e1", "hello"), Some(stored.clone()));
        assert_eq!(stored.length, clip.duration());
        let back = cache.get("e1", "hello").unwrap();
        assert_eq!(back.samples().len(), 4);
        assert!((back.samples()[1] - 0.5).abs() < 1e-3);
        assert!(cache.get("e2", "hello").is_none());
        assert!(cache.get("e1", "hello!").is_none());
        // a file cut short is treated as missing
        let bytes = std::fs::read(&stored.path).unwrap();
        std::fs::write(&stored.path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(cache.entry("e1", "hello").is_none());
    }
}
