//! Untrusted input: routine files and config values shared between people can never run code,
//! name files outside their folders, or crash a decoder.

mod common;

use std::path::Path;

use common::Home;
use proptest::prelude::*;

/// Text crafted to break out of a Festival script or a shell, each creating `marker` if it did.
fn payloads(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("cmu_us_slt_arctic_hts) (system \"touch {m}\") (voice_cmu_us_slt_arctic_hts"),
        format!("x\") (system \"touch {m}\") (\""),
        format!("x\\\") (system \\\"touch {m}\\\") (\\\""),
        format!("x\\\\\") (system \"touch {m}\") (\""),
        format!("x\n(system \"touch {m}\")\n"),
        format!("x\r\n\") (system \"touch {m}\") (\""),
        format!("x\"; (system \"touch {m}\") ; \""),
        format!("x\u{0}\") (system \"touch {m}\")"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("x; touch {m}"),
        format!("x' (system \"touch {m}\") '"),
    ]
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

const FESTIVAL_ONLY: &str = "[voice]\nengine = \"festival\"\nfallback = []\n";

/// The file from the report, and every variant of it: voice names are refused by `check` with
/// their line, and neither `check` nor `render` runs anything.
#[test]
fn a_voice_name_cannot_run_code() {
    let home = Home::new();
    home.write("config/letdown/config.toml", FESTIVAL_ONLY);
    let marker = home.path("pwned");
    for (i, voice) in payloads(&marker).iter().enumerate() {
        let file = home.write(
            &format!("shared{i}.toml"),
            &format!(
                "name = \"shared\"\ntitle = \"A shared routine\"\n[voice]\nengine = \"festival\"\nvoice = {}\n[[steps]]\ntitle = \"One\"\nsay = \"Breathe in slowly.\"\nduration = \"5s\"\n",
                toml_string(voice)
            ),
        );
        let path = file.to_str().unwrap();
        let check = home.letdown(&["check", path]);
        let err = String::from_utf8_lossy(&check.stdout).to_string()
            + &String::from_utf8_lossy(&check.stderr);
        assert!(!check.status.success(), "check passed {voice:?}");
        assert!(
            err.contains(&format!("shared{i}.toml:5:")) && err.contains("voice.voice"),
            "{voice:?}: the error does not name the line and field:\n{err}"
        );
        let out = home.path("out.wav");
        let render = home.letdown(&["render", path, "-o", out.to_str().unwrap()]);
        assert!(!render.status.success(), "render accepted {voice:?}");
        assert!(!marker.exists(), "{voice:?} ran code");
    }
}

/// Prompts and titles may hold any text: it is spoken, never run.
#[test]
fn prompts_and_titles_are_spoken_never_run() {
    let home = Home::new();
    home.write("config/letdown/config.toml", FESTIVAL_ONLY);
    let marker = home.path("pwned");
    let steps: String = payloads(&marker)
        .iter()
        .map(|p| {
            format!(
                "[[steps]]\ntitle = {}\nsay = {}\nduration = \"3s\"\n",
                toml_string(&p.replace(['\n', '\r', '\0'], " ")),
                toml_string(p)
            )
        })
        .collect();
    let file = home.write(
        "texts.toml",
        &format!("name = \"texts\"\ntitle = \"Texts\"\n[voice]\nengine = \"festival\"\n{steps}"),
    );
    let path = file.to_str().unwrap();
    home.ok(&["check", path]);
    let out = home.path("texts.wav");
    home.ok(&["render", path, "-o", out.to_str().unwrap()]);
    assert!(!marker.exists(), "a prompt ran code");
    let audio = common::read_wav(&out);
    // Each step's prompt is heard, where the plan puts it (cue times are from the session's
    // start; steps are longer than their 3 s of hands-on time, the prompt coming first).
    let plan: serde_json::Value =
        serde_json::from_str(&home.ok(&["plan", path, "--json"])).unwrap();
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), payloads(&marker).len());
    for (i, step) in steps.iter().enumerate() {
        let prompt = step["cues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["sound"].as_str().unwrap().starts_with("prompt:"))
            .unwrap_or_else(|| panic!("step {} has no prompt", i + 1));
        let at = prompt["at_sample"].as_u64().unwrap() as usize;
        let len = prompt["len_samples"].as_u64().unwrap() as usize;
        assert!(
            common::rms(&audio[at..(at + len).min(audio.len())]) > 0.01,
            "step {} is silent: its prompt was not spoken",
            i + 1
        );
    }
}

/// Audio paths and config values crafted the same way: located errors, nothing run or read.
#[test]
fn audio_paths_and_config_values_cannot_escape() {
    let home = Home::new();
    let marker = home.path("pwned");
    for (i, p) in payloads(&marker)
        .iter()
        .chain(
            [
                "/etc/passwd".to_string(),
                "../../../../etc/shadow".to_string(),
            ]
            .iter(),
        )
        .enumerate()
    {
        let file = home.write(
            &format!("audio{i}.toml"),
            &format!(
                "name = \"a\"\ntitle = \"A\"\n[[steps]]\ntitle = \"One\"\naudio = {}\nduration = \"5s\"\n",
                toml_string(p)
            ),
        );
        let check = home.letdown(&["check", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&check.stdout);
        assert!(
            !check.status.success()
                && err.contains(&format!("audio{i}.toml:5:"))
                && err.contains("steps[0].audio"),
            "{p:?}:\n{err}"
        );
    }
    for (i, p) in payloads(&marker).iter().enumerate() {
        for key in ["voice", "language"] {
            home.write(
                "config/letdown/config.toml",
                &format!(
                    "[voice]\nengine = \"festival\"\n{key} = {}\n",
                    toml_string(p)
                ),
            );
            let check = home.letdown(&["check"]);
            let err = String::from_utf8_lossy(&check.stdout).to_string()
                + &String::from_utf8_lossy(&check.stderr);
            assert!(
                !check.status.success()
                    && err.contains("config.toml:3:")
                    && err.contains(&format!("voice.{key}")),
                "payload {i} in {key}: {err}"
            );
        }
    }
    assert!(!marker.exists());
}

/// Valid sounds of each format letdown decodes, made here: the seeds of the broken corpus.
fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let tone: Vec<f32> = (0..9600).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let wav = dir.join("seed.wav");
    letdown::clip::write_wav(&wav, &tone).unwrap();
    let mut out = vec![("wav".to_string(), std::fs::read(&wav).unwrap())];
    for ext in ["flac", "ogg"] {
        let to = dir.join(format!("seed.{ext}"));
        let ok = std::process::Command::new("sox")
            .arg(&wav)
            .arg(&to)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "sox cannot write {ext} (install-deps installs sox)");
        out.push((ext.to_string(), std::fs::read(&to).unwrap()));
    }
    // No MP3 encoder in Debian main's minimal set: a stream of MPEG-1 layer III frame headers
    // with noise between them drives the MP3 decoder's frame parsing.
    let mut mp3 = Vec::new();
    for i in 0..40u32 {
        mp3.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        mp3.extend((0..413u32).map(|j| (j.wrapping_mul(2654435761).wrapping_add(i) >> 13) as u8));
    }
    out.push(("mp3".to_string(), mp3));
    out
}

/// A corpus of broken files: cut short, headers lying about sizes, zeroed, each decoded without
/// a crash, and a valid file still decodes.
#[test]
fn broken_audio_files_are_errors_never_crashes() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, bytes) in seeds(dir.path()) {
        let path = dir.path().join(format!("valid.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        if ext != "mp3" {
            let clip = letdown::clip::Clip::decode_file(&path).unwrap();
            assert!(
                clip.duration().as_millis() > 150,
                "{ext} seed did not decode"
            );
        }
        let mut broken: Vec<(String, Vec<u8>)> = vec![
            ("empty".into(), Vec::new()),
            ("header only".into(), bytes[..bytes.len().min(12)].to_vec()),
            ("half".into(), bytes[..bytes.len() / 2].to_vec()),
            ("zeroed body".into(), {
                let mut b = bytes.clone();
                let n = b.len();
                b[(n / 8).max(12)..].fill(0);
                b
            }),
            ("sizes say 4 GB".into(), {
                let mut b = bytes.clone();
                for at in [4, 40] {
                    if b.len() > at + 4 {
                        b[at..at + 4].copy_from_slice(&[0xFF; 4]);
                    }
                }
                b
            }),
            (
                "repeated header".into(),
                bytes[..bytes.len().min(64)].repeat(200),
            ),
        ];
        if ext == "wav" {
            let mut b = bytes.clone();
            b[22..24].copy_from_slice(&0u16.to_le_bytes()); // no channels
            broken.push(("no channels".into(), b));
            let mut b = bytes.clone();
            b[24..28].copy_from_slice(&0u32.to_le_bytes()); // rate 0
            broken.push(("rate 0".into(), b));
            let mut b = bytes.clone();
            b[34..36].copy_from_slice(&7u16.to_le_bytes()); // 7-bit samples
            broken.push(("7-bit".into(), b));
        }
        for (what, b) in broken {
            let p = dir.path().join(format!("broken.{ext}"));
            std::fs::write(&p, &b).unwrap();
            let r = letdown::clip::Clip::decode_file(&p);
            if let Err(e) = &r {
                assert!(
                    e.contains("broken."),
                    "{ext} {what}: the error names no file: {e}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Mutated files (bytes flipped, cut, spliced) of every format: decoding returns, with a
    /// clip or an error, and never panics.
    #[test]
    fn mutated_audio_files_never_crash_the_decoder(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        cut in any::<prop::sample::Index>(),
        splice in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        thread_local! {
            static SEEDS: (tempfile::TempDir, Vec<(String, Vec<u8>)>) = {
                let d = tempfile::tempdir().unwrap();
                let s = seeds(d.path());
                (d, s)
            };
        }
        let (dir, ext, mut bytes) = SEEDS.with(|(d, s)| {
            (d.path().to_path_buf(), s[which].0.clone(), s[which].1.clone())
        });
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() / 4);
        bytes.truncate(keep);
        let mid = bytes.len() / 2;
        bytes.splice(mid..mid, splice);
        let p = dir.join(format!("mutated.{ext}"));
        std::fs::write(&p, &bytes).unwrap();
        let r = std::panic::catch_unwind(|| letdown::clip::Clip::decode_file(&p));
        prop_assert!(r.is_ok(), "decoding a mutated {} panicked", ext);
    }
}

/// A well-formed voice name that is not installed is a warning naming what is installed.
#[test]
fn a_festival_voice_that_is_not_installed_is_named_by_check() {
    let home = Home::new();
    let file = home.write(
        "r.toml",
        "name = \"r\"\ntitle = \"R\"\n[voice]\nengine = \"festival\"\nvoice = \"no_such_voice_hts\"\n[[steps]]\ntitle = \"One\"\nsay = \"Hi.\"\nduration = \"5s\"\n",
    );
    let out = home.ok(&["check", file.to_str().unwrap()]);
    assert!(
        out.contains("\"no_such_voice_hts\" is not installed here")
            && out.contains("cmu_us_slt_arctic_hts"),
        "{out}"
    );
}
