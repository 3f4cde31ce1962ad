//! The voices installed on this machine, across engines: for `letdown voices`, and for the
//! default voice when the config names none (the best installed one, in [`PREFERENCE`]).
//!
//! Looking costs little: directory listings, a search of PATH, and one `espeak-ng --voices`.

use std::path::{Path, PathBuf};

use super::{EngineKind, VoiceConfig};

/// Kinds of installed voice, by how natural they sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A neural Piper voice.
    Piper,
    /// An RHVoice voice under a licence that allows any use.
    Rhvoice,
    /// A Festival HTS voice (statistical).
    FestivalHts,
    /// A flite voice.
    Flite,
    /// An older Festival diphone voice.
    FestivalDiphone,
    /// espeak-ng: robotic, but in many languages.
    EspeakNg,
    /// An RHVoice voice licensed for no derivatives and no commercial use.
    RhvoiceRestricted,
}

/// The one order voices are preferred in when none is configured: the most natural first,
/// espeak-ng near the end, and after it only the restricted RHVoice voices. (The default is
/// chosen among the voices other than espeak-ng, which stays the fallback, so those speak by
/// default only when nothing but espeak-ng is installed.) Every voice's rank comes from here.
pub const PREFERENCE: [Kind; 7] = [
    Kind::Piper,
    Kind::Rhvoice,
    Kind::FestivalHts,
    Kind::Flite,
    Kind::FestivalDiphone,
    Kind::EspeakNg,
    Kind::RhvoiceRestricted,
];

/// One voice that can speak here.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledVoice {
    /// The engine that speaks it.
    pub engine: EngineKind,
    /// The voice's name as the engine knows it (`voice` in config.toml).
    pub name: String,
    /// Its language, as a code such as `en-US`.
    pub language: String,
    /// `female` or `male`, where known.
    pub gender: Option<&'static str>,
    /// What kind of voice it is: its place in [`PREFERENCE`].
    pub kind: Kind,
    /// Its order among voices of its kind (0 for the engine's own default voice).
    pub within: u32,
}

impl InstalledVoice {
    /// Rank among this machine's voices, lower preferred: its kind's place in [`PREFERENCE`],
    /// then its order within the kind.
    pub fn rank(&self) -> (usize, u32) {
        let place = PREFERENCE
            .iter()
            .position(|k| *k == self.kind)
            .expect("every kind is in PREFERENCE");
        (place, self.within)
    }

    /// `engine:name`, the name `letdown voices use` takes (a bare name works when it is unique).
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.engine, self.name)
    }

    /// True when this is the voice `cfg` speaks with.
    pub fn is_configured(&self, cfg: &VoiceConfig) -> bool {
        cfg.engine == self.engine
            && match &cfg.voice {
                Some(v) => *v == self.name,
                None => default_voice(self.engine, &cfg.language).is_some_and(|d| d == self.name),
            }
    }
}

/// The voice an engine uses when none is named.
pub fn default_voice(engine: EngineKind, language: &str) -> Option<String> {
    match engine {
        EngineKind::Festival => Some(super::festival::DEFAULT_VOICE.into()),
        EngineKind::Flite => Some(super::flite::DEFAULT_VOICE.into()),
        EngineKind::EspeakNg => Some(language.to_string()),
        EngineKind::Rhvoice => Some(super::rhvoice::DEFAULT_VOICE.into()),
        EngineKind::Piper => Some(super::piper::DEFAULT_VOICE.into()),
        EngineKind::Command => None,
    }
}

/// Where a program would be found on PATH, if it is there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Every voice installed here, preferred first (see [`PREFERENCE`]). `data_dir` is
/// letdown's data folder (`~/.local/share/letdown`), where the natural voice is installed.
/// espeak-ng's voices are listed only for `language` (all of them when it is `None`).
pub fn installed(data_dir: &Path, language: Option<&str>) -> Vec<InstalledVoice> {
    gather(data_dir, language, true)
}

/// [`installed`], with or without espeak-ng's (which costs running it).
fn gather(data_dir: &Path, language: Option<&str>, espeak: bool) -> Vec<InstalledVoice> {
    let mut all = Vec::new();
    all.extend(super::piper::installed_voices(data_dir));
    all.extend(super::rhvoice::installed_voices());
    if on_path("festival").is_some() {
        for name in super::festival::installed_voices().unwrap_or_default() {
            let hts = name.ends_with("_hts");
            all.push(InstalledVoice {
                engine: EngineKind::Festival,
                language: if name.contains("_us_") {
                    "en-US".into()
                } else {
                    "en".into()
                },
                gender: festival_gender(&name),
                kind: if hts {
                    Kind::FestivalHts
                } else {
                    Kind::FestivalDiphone
                },
                within: 0,
                name,
            });
        }
    }
    if on_path("flite").is_some() {
        for (i, name) in super::flite::VOICES.iter().enumerate() {
            all.push(InstalledVoice {
                engine: EngineKind::Flite,
                name: name.to_string(),
                language: "en-US".into(),
                gender: Some(if *name == "slt" { "female" } else { "male" }),
                kind: Kind::Flite,
                within: i as u32,
            });
        }
    }
    if espeak {
        all.extend(super::espeak::installed_voices(language));
    }
    if let Some(lang) = language {
        let base = |l: &str| {
            l.split(['-', '_'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        all.retain(|v| base(&v.language) == base(lang));
    }
    all.sort_by(|a, b| a.rank().cmp(&b.rank()).then_with(|| a.name.cmp(&b.name)));
    all
}

/// The gender of a Festival voice, from the speakers of the CMU ARCTIC and diphone sets.
fn festival_gender(name: &str) -> Option<&'static str> {
    const FEMALE: [&str; 3] = ["_slt_", "_clb_", "_eey_"];
    const MALE: [&str; 8] = [
        "_awb_", "_bdl_", "_jmk_", "_rms_", "_ksp_", "_kal_", "_ked_", "_rab_",
    ];
    let n = format!("_{name}");
    if FEMALE.iter().any(|f| n.contains(f)) {
        Some("female")
    } else if MALE.iter().any(|m| n.contains(m)) {
        Some("male")
    } else {
        None
    }
}

/// Finds `wanted` among `voices`: `engine:name`, or a bare name that only one engine has.
pub fn find<'a>(voices: &'a [InstalledVoice], wanted: &str) -> Result<&'a InstalledVoice, String> {
    if let Some(v) = voices.iter().find(|v| v.full_name() == wanted) {
        return Ok(v);
    }
    let by_name: Vec<&InstalledVoice> = voices.iter().filter(|v| v.name == wanted).collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no voice \"{wanted}\" is installed; `letdown voices` lists them{}",
            if wanted.contains(':') {
                ""
            } else {
                " (name one as ENGINE:VOICE)"
            }
        )),
        many => Err(format!(
            "\"{wanted}\" is the name of more than one voice; say which: {}",
            many.iter()
                .map(|v| v.full_name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// When the config names no engine, speaks with the best voice installed (the first of
/// [`installed`] in the configured language; espeak-ng when there is no other), keeping
/// espeak-ng as the fallback. Also says where the natural voice is installed (`data_dir`).
pub fn choose_default(cfg: &mut VoiceConfig, data_dir: &Path) {
    cfg.data_dir = Some(data_dir.to_path_buf());
    // A `voice` with no `engine` has always meant a Festival voice: it still does.
    if cfg.chosen || cfg.voice.is_some() {
        return;
    }
    match gather(data_dir, Some(&cfg.language), false)
        .into_iter()
        .next()
    {
        Some(best) => {
            cfg.engine = best.engine;
            cfg.voice = Some(best.name);
        }
        None => {
            cfg.engine = EngineKind::EspeakNg;
            cfg.voice = None;
        }
    }
    let engine = cfg.engine;
    cfg.fallback.retain(|f| *f != engine);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(engine: EngineKind, name: &str) -> InstalledVoice {
        InstalledVoice {
            engine,
            name: name.into(),
            language: "en-US".into(),
            gender: None,
            kind: Kind::Flite,
            within: 0,
        }
    }

    /// Voices rank by their kind's place in the one PREFERENCE list, then within their kind.
    #[test]
    fn ranks_follow_the_one_preference_list() {
        let voice = |kind, within| InstalledVoice {
            kind,
            within,
            ..v(EngineKind::Flite, "x")
        };
        let mut all = vec![
            voice(Kind::RhvoiceRestricted, 0),
            voice(Kind::EspeakNg, 0),
            voice(Kind::Flite, 1),
            voice(Kind::FestivalDiphone, 0),
            voice(Kind::Flite, 0),
            voice(Kind::Piper, 1),
            voice(Kind::FestivalHts, 0),
            voice(Kind::Rhvoice, 0),
            voice(Kind::Piper, 0),
        ];
        all.sort_by_key(InstalledVoice::rank);
        let order: Vec<(Kind, u32)> = all.iter().map(|v| (v.kind, v.within)).collect();
        assert_eq!(
            order,
            [
                (Kind::Piper, 0),
                (Kind::Piper, 1),
                (Kind::Rhvoice, 0),
                (Kind::FestivalHts, 0),
                (Kind::Flite, 0),
                (Kind::Flite, 1),
                (Kind::FestivalDiphone, 0),
                (Kind::EspeakNg, 0),
                (Kind::RhvoiceRestricted, 0),
            ]
        );
    }

    #[test]
    fn a_voice_is_found_by_its_full_name_or_a_unique_bare_name() {
        let all = [
            v(EngineKind::Flite, "slt"),
            v(EngineKind::Rhvoice, "slt"),
            v(EngineKind::Flite, "rms"),
        ];
        assert_eq!(find(&all, "flite:slt").unwrap(), &all[0]);
        assert_eq!(find(&all, "rms").unwrap(), &all[2]);
        let e = find(&all, "slt").unwrap_err();
        assert!(e.contains("flite:slt, rhvoice:slt"), "{e}");
        let e = find(&all, "nobody").unwrap_err();
        assert!(e.contains("letdown voices"), "{e}");
    }

    #[test]
    fn festival_voices_have_the_gender_of_their_speaker() {
        assert_eq!(festival_gender("cmu_us_slt_arctic_hts"), Some("female"));
        assert_eq!(festival_gender("cmu_us_awb_arctic_clunits"), Some("male"));
        assert_eq!(festival_gender("kal_diphone"), Some("male"));
        assert_eq!(festival_gender("mystery"), None);
    }

    #[test]
    fn a_voice_named_without_an_engine_stays_festivals() {
        let mut cfg = VoiceConfig {
            voice: Some("kal_diphone".into()),
            ..VoiceConfig::default()
        };
        choose_default(&mut cfg, Path::new("/nonexistent"));
        assert_eq!(cfg.engine, EngineKind::Festival);
        assert_eq!(cfg.voice.as_deref(), Some("kal_diphone"));
    }

    #[test]
    fn a_configured_engine_is_never_replaced() {
        let mut cfg = VoiceConfig {
            engine: EngineKind::EspeakNg,
            chosen: true,
            ..VoiceConfig::default()
        };
        choose_default(&mut cfg, Path::new("/nonexistent"));
        assert_eq!(cfg.engine, EngineKind::EspeakNg);
        assert_eq!(cfg.voice, None);
    }
}
