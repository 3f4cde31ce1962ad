//! Which audio files a routine may play.
//!
//! Routine files are shared between people, so `audio = "..."` is untrusted: it may name only a
//! file inside the routine's own folder or the user's audio folders (after following `..` and
//! symbolic links), of a sane size, that starts like a WAV, OGG, FLAC or MP3 file. Anything
//! else is a located error from `letdown check`, never a read of `/etc/...`.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest audio file a routine may name: minutes of compressed speech are far smaller.
pub const MAX_AUDIO_BYTES: u64 = 50 * 1024 * 1024;

/// Finds the file a routine names, looking in `dirs` in order (the routine's folder first).
/// The error says why, for a located diagnostic.
pub fn resolve(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    let roots: Vec<PathBuf> = dirs.iter().filter_map(|d| d.canonicalize().ok()).collect();
    let wanted = Path::new(name);
    let candidates: Vec<PathBuf> = if wanted.is_absolute() {
        vec![wanted.to_path_buf()]
    } else {
        dirs.iter().map(|d| d.join(wanted)).collect()
    };
    let mut outside = None;
    for candidate in candidates {
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        if !roots.iter().any(|r| real.starts_with(r)) {
            outside.get_or_insert(real);
            continue;
        }
        if real.is_file() {
            check_file(&real)?;
            return Ok(real);
        }
    }
    let looked = if dirs.is_empty() {
        "no folders".to_string()
    } else {
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(match outside {
        Some(real) => format!(
            "audio file \"{name}\" is {}, outside the routine's folder and your audio folders ({looked}); copy it into one of them",
            real.display()
        ),
        None => format!("audio file \"{name}\" not found (looked in: {looked})"),
    })
}

/// Checks that `path` is a plausible audio file: not empty, at most [`MAX_AUDIO_BYTES`], and
/// starting with a WAV, OGG, FLAC or MP3 signature.
pub fn check_file(path: &Path) -> Result<(), String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_AUDIO_BYTES {
        return Err(format!(
            "{} is {} MB; an audio file may be at most {} MB",
            path.display(),
            meta.len() / (1024 * 1024),
            MAX_AUDIO_BYTES / (1024 * 1024)
        ));
    }
    let mut head = [0u8; 12];
    let n = std::fs::File::open(path)
        .and_then(|f| f.take(12).read(&mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if kind(&head[..n]).is_none() {
        return Err(format!(
            "{} is not a WAV, OGG, FLAC or MP3 file",
            path.display()
        ));
    }
    Ok(())
}

/// The audio format a file's first bytes announce.
pub fn kind(head: &[u8]) -> Option<&'static str> {
    match head {
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'A',
            b'V',
            b'E',
            ..,
        ] => Some("wav"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [b'I', b'D', b'3', ..] => Some("mp3"),
        [0xFF, b, ..] if b & 0xE0 == 0xE0 => Some("mp3"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path) {
        crate::clip::write_wav(path, &[0.1; 4800]).unwrap();
    }

    #[test]
    fn only_audio_inside_the_routines_folder_or_audio_folders_is_played() {
        let base = tempfile::tempdir().unwrap();
        let audio = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        wav(&base.path().join("here.wav"));
        wav(&audio.path().join("mine.wav"));
        wav(&elsewhere.path().join("secret.wav"));
        std::os::unix::fs::symlink(
            elsewhere.path().join("secret.wav"),
            base.path().join("link.wav"),
        )
        .unwrap();
        let dirs = vec![base.path().to_path_buf(), audio.path().to_path_buf()];
        assert!(resolve("here.wav", &dirs).is_ok());
        assert!(resolve("mine.wav", &dirs).is_ok());
        let inside = audio.path().join("mine.wav");
        assert!(resolve(inside.to_str().unwrap(), &dirs).is_ok());
        let secret = elsewhere.path().join("secret.wav");
        let rel_out = format!(
            "../{}/secret.wav",
            elsewhere.path().file_name().unwrap().to_str().unwrap()
        );
        for name in [
            "/etc/passwd",
            "../../../../etc/passwd",
            secret.to_str().unwrap(),
            rel_out.as_str(),
            "link.wav",
        ] {
            let err = resolve(name, &dirs).unwrap_err();
            assert!(
                err.contains("outside the routine's folder"),
                "{name}: {err}"
            );
        }
        let err = resolve("nope.wav", &dirs).unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn files_that_are_not_audio_or_too_big_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let dirs = vec![base.path().to_path_buf()];
        std::fs::write(base.path().join("notes.wav"), b"#!/bin/sh\necho hi\n").unwrap();
        let err = resolve("notes.wav", &dirs).unwrap_err();
        assert!(err.contains("not a WAV, OGG, FLAC or MP3"), "{err}");
        std::fs::write(base.path().join("empty.ogg"), b"").unwrap();
        assert!(resolve("empty.ogg", &dirs).is_err());
        let big = std::fs::File::create(base.path().join("big.flac")).unwrap();
        big.set_len(MAX_AUDIO_BYTES + 1).unwrap();
        drop(big);
        let err = resolve("big.flac", &dirs).unwrap_err();
        assert!(err.contains("at most 50 MB"), "{err}");
        assert_eq!(kind(b"OggS\0\x02"), Some("ogg"));
        assert_eq!(kind(b"fLaC\0\0\0\x22"), Some("flac"));
        assert_eq!(kind(b"ID3\x04"), Some("mp3"));
        assert_eq!(kind(&[0xFF, 0xFB, 0x90]), Some("mp3"));
    }
}
