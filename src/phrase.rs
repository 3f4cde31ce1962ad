//! Stock phrases composed at run time: "twenty seconds left", countdown numbers, "step three of
//! twelve".
//!
//! They are spoken in the routine's own voice, so they are synthesized ahead with the prompts
//! (the phrase bank) and play at once when needed. English only for now.

/// A phrase the engine or the daemon may speak besides a step's prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phrase {
    /// "Halfway."
    Halfway,
    /// "Six minutes.": how long a step that lasts until `next` has lasted (seconds).
    Elapsed(u32),
    /// "Thirty seconds left." (seconds)
    TimeLeft(u32),
    /// A countdown number: "Three."
    Count(u32),
    /// "Step three of twelve." (1-based step, total)
    StepOf(u32, u32),
    /// "Your massage starts in two minutes." (minutes; the heads-up)
    StartsIn(u32),
    /// "The right side is next.": said first in a session when the feed log says which side
    /// comes next.
    SideNext(Breast),
}

/// A side, as a session's first words name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Breast {
    /// The left side.
    Left,
    /// The right side.
    Right,
}

impl Phrase {
    /// The text to synthesize.
    pub fn text(self) -> String {
        match self {
            Phrase::Halfway => "Halfway.".into(),
            Phrase::Elapsed(s) => format!("{}.", capitalize(&spoken_duration(s))),
            Phrase::TimeLeft(s) => format!("{} left.", capitalize(&spoken_duration(s))),
            Phrase::Count(n) => format!("{}.", capitalize(&number_words(n))),
            Phrase::StepOf(n, total) => {
                format!("Step {} of {}.", number_words(n), number_words(total))
            }
            Phrase::StartsIn(m) => {
                format!("Your massage starts in {}.", spoken_duration(m.max(1) * 60))
            }
            Phrase::SideNext(Breast::Left) => "The left side is next.".into(),
            Phrase::SideNext(Breast::Right) => "The right side is next.".into(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Seconds as words: "forty-five seconds", "one minute", "two minutes and ten seconds".
pub fn spoken_duration(secs: u32) -> String {
    let (m, s) = (secs / 60, secs % 60);
    let unit = |n: u32, one: &str, many: &str| {
        format!("{} {}", number_words(n), if n == 1 { one } else { many })
    };
    match (m, s) {
        (0, s) => unit(s, "second", "seconds"),
        (m, 0) => unit(m, "minute", "minutes"),
        (m, s) => format!(
            "{} and {}",
            unit(m, "minute", "minutes"),
            unit(s, "second", "seconds")
        ),
    }
}

/// A number in English words, up to 9999.
pub fn number_words(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    match n {
        0..=19 => ONES[n as usize].to_string(),
        20..=99 => {
            let t = TENS[(n / 10) as usize];
            if n.is_multiple_of(10) {
                t.to_string()
            } else {
                format!("{t}-{}", ONES[(n % 10) as usize])
            }
        }
        100..=999 => {
            let rest = n % 100;
            let h = format!("{} hundred", ONES[(n / 100) as usize]);
            if rest == 0 {
                h
            } else {
                format!("{h} and {}", number_words(rest))
            }
        }
        _ => {
            let rest = n % 1000;
            let th = format!("{} thousand", number_words(n / 1000));
            match rest {
                0 => th,
                1..=99 => format!("{th} and {}", number_words(rest)),
                _ => format!("{th} {}", number_words(rest)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(number_words(0), "zero");
        assert_eq!(number_words(13), "thirteen");
        assert_eq!(number_words(40), "forty");
        assert_eq!(number_words(45), "forty-five");
        assert_eq!(number_words(101), "one hundred and one");
        assert_eq!(number_words(2024), "two thousand and twenty-four");
    }

    #[test]
    fn phrases_are_full_sentences() {
        assert_eq!(Phrase::TimeLeft(20).text(), "Twenty seconds left.");
        assert_eq!(Phrase::TimeLeft(60).text(), "One minute left.");
        assert_eq!(
            Phrase::TimeLeft(90).text(),
            "One minute and thirty seconds left."
        );
        assert_eq!(Phrase::Count(3).text(), "Three.");
        assert_eq!(Phrase::StepOf(3, 12).text(), "Step three of twelve.");
    }
}
