//! Per-side blocks in the order of the day: a routine with `sides_order = "next-feed"` begins
//! each block with the side due next (from the feed log), instead of as written.

use super::Routine;

/// Checks `sides_order`: `"as-written"` (the default) or `"next-feed"`.
pub(super) fn check_order(value: &str) -> Result<(), String> {
    match value {
        "as-written" | "next-feed" => Ok(()),
        other => Err(format!(
            "unknown sides_order \"{other}\"; use \"as-written\" or \"next-feed\""
        )),
    }
}

impl Routine {
    /// The routine as it should start when `side` is due next: unchanged unless it asks for
    /// `next-feed` order, else every per-side block with `side`'s steps first (each side's
    /// steps in their own order; the first step of each later side opens with the side-switch
    /// tone, as always).
    pub fn for_next_side(&self, side: &str) -> Routine {
        let mut out = self.clone();
        if !self.next_side_first {
            return out;
        }
        let mut i = 0;
        while i < out.steps.len() {
            if out.steps[i].side.is_none() {
                i += 1;
                continue;
            }
            // One block: a run of steps that belong to sides.
            let end = (i..out.steps.len())
                .find(|&j| out.steps[j].side.is_none())
                .unwrap_or(out.steps.len());
            let block = &mut out.steps[i..end];
            if block.iter().any(|s| s.side.as_deref() == Some(side)) {
                // A stable sort: the side due next first, the others as written.
                block.sort_by_key(|s| s.side.as_deref() != Some(side));
                let mut seen: Vec<Option<String>> = Vec::new();
                for s in block.iter_mut() {
                    s.switches_side = !seen.is_empty() && !seen.contains(&s.side);
                    if !seen.contains(&s.side) {
                        seen.push(s.side.clone());
                    }
                }
            }
            i = end;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::routine::parse::{ParseOptions, parse_routine};

    const TEXT: &str = r#"title = "T"
sides_order = "next-feed"
[[steps]]
title = "Warm"
say = "Warm up."
duration = "5s"
[[steps]]
title = "Side"
sides = ["left", "right"]
[[steps.steps]]
title = "Circles {side}"
say = "Circles on the {side}."
duration = "5s"
[[steps.steps]]
title = "Strokes {side}"
say = "Strokes on the {side}."
duration = "5s"
"#;

    #[test]
    fn the_side_due_next_goes_first_and_the_switch_tone_follows() {
        let r = parse_routine(
            std::path::Path::new("t.toml"),
            TEXT,
            &ParseOptions::default(),
        )
        .unwrap();
        assert!(r.next_side_first);
        let titles = |r: &crate::routine::Routine| {
            r.steps
                .iter()
                .map(|s| (s.title.clone(), s.switches_side))
                .collect::<Vec<_>>()
        };
        let right = r.for_next_side("right");
        assert_eq!(
            titles(&right),
            [
                ("Warm".to_string(), false),
                ("Circles right".to_string(), false),
                ("Strokes right".to_string(), false),
                ("Circles left".to_string(), true),
                ("Strokes left".to_string(), false),
            ]
        );
        assert_eq!(r.for_next_side("left"), r, "left is already first");
        let written = parse_routine(
            std::path::Path::new("t.toml"),
            &TEXT.replace("next-feed", "as-written"),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(written.for_next_side("right"), written);
        let bad = parse_routine(
            std::path::Path::new("t.toml"),
            &TEXT.replace("next-feed", "random"),
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert!(bad[0].to_string().contains("t.toml:2:"), "{}", bad[0]);
    }
}
