//! Any program that turns text into a WAV: Piper or another neural voice.
//!
//! The program runs directly, never through a shell. `{text}` in an argument is replaced by the
//! text (otherwise the text is written to stdin); `{out}` by the WAV file to write (otherwise the
//! WAV is read from stdout). `{voice}`, `{language}` and `{speed}` are replaced by the settings.

use super::{Job, SpeechEngine, VoiceSettings, in_parallel, limit_for, one_by_one, run};

/// Speaks through a user-given command.
pub struct CommandEngine {
    argv: Vec<String>,
    settings: VoiceSettings,
}

impl CommandEngine {
    /// An engine running `argv` (program first).
    pub fn new(argv: Vec<String>, settings: VoiceSettings) -> Self {
        Self { argv, settings }
    }

    fn speak(&self, job: &Job) -> super::Spoken {
        let (program, rest) = self
            .argv
            .split_first()
            .ok_or_else(|| "the command is empty".to_string())?;
        let out = job.out.to_string_lossy();
        let text_in_args = rest.iter().any(|a| a.contains("{text}"));
        let out_in_args = rest.iter().any(|a| a.contains("{out}"));
        let args: Vec<String> = rest
            .iter()
            .map(|a| {
                a.replace("{out}", &out)
                    .replace("{voice}", self.settings.voice.as_deref().unwrap_or(""))
                    .replace("{language}", &self.settings.language)
                    .replace("{speed}", &format!("{:.3}", self.settings.speed))
                    .replace("{text}", &job.text)
            })
            .collect();
        let stdin = if text_in_args {
            Vec::new()
        } else {
            job.text.clone().into_bytes()
        };
        let stdout = run(program, &args, &stdin, limit_for(&self.settings, 1))?;
        if !out_in_args {
            if stdout.is_empty() {
                return Err(format!(
                    "`{program}` wrote nothing to stdout (add {{out}} to its arguments if it writes a file)"
                )
                .into());
            }
            std::fs::write(&job.out, stdout).map_err(|e| format!("cannot save its output: {e}"))?;
        }
        Ok(())
    }
}

impl SpeechEngine for CommandEngine {
    fn name(&self) -> &str {
        "command"
    }

    fn identity(&self) -> String {
        format!(
            "command {:?} voice={:?} language={} speed={:.3}",
            self.argv, self.settings.voice, self.settings.language, self.settings.speed
        )
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        in_parallel(jobs, |chunk| one_by_one(chunk, |job| self.speak(job)))
    }
}
