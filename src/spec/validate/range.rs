//! The one range check of the spec: where a number must lie, and the message
//! when it does not ("got {value}, expected {what it must be}").

use std::fmt::Display;
use std::ops::{Bound, Range, RangeBounds, RangeInclusive};

use toml::Spanned;

use super::Ctx;
use crate::spec::SpecError;

/// Where a number of the spec must lie, and the words its message says that in.
pub(super) struct Expect<T> {
    low: Bound<T>,
    high: Bound<T>,
    words: String,
}

impl Expect<i64> {
    /// A whole number in `range`: "a whole number from 1 to 1024".
    pub(super) fn whole(range: RangeInclusive<i64>) -> Self {
        let words = format!("a whole number from {} to {}", range.start(), range.end());
        Expect { low: Bound::Included(*range.start()), high: Bound::Included(*range.end()), words }
    }

    /// A whole number of at least `min`: "a whole number >= 1".
    pub(super) fn whole_from(min: i64) -> Self {
        Expect { low: Bound::Included(min), high: Bound::Unbounded, words: format!("a whole number >= {min}") }
    }
}

impl Expect<f64> {
    /// A number strictly between 0 and 1: "a number in (0, 1)".
    pub(super) fn fraction() -> Self {
        Expect { low: Bound::Excluded(0.0), high: Bound::Excluded(1.0), words: "a number in (0, 1)".into() }
    }

    /// A finite number of at least 0: "a number >= 0".
    pub(super) fn non_negative() -> Self {
        Expect { low: Bound::Included(0.0), high: Bound::Excluded(f64::INFINITY), words: "a number >= 0".into() }
    }

    /// A number above 0: "a number > 0".
    pub(super) fn positive() -> Self {
        Expect { low: Bound::Excluded(0.0), high: Bound::Unbounded, words: "a number > 0".into() }
    }
}

impl<T: PartialOrd> Expect<T> {
    /// The same range in other words (what the number is for).
    pub(super) fn words(self, words: impl Into<String>) -> Self {
        Expect { words: words.into(), ..self }
    }

    /// Whether `value` lies where it must (NaN never does).
    fn admits(&self, value: &T) -> bool {
        (self.low.as_ref(), self.high.as_ref()).contains(value)
    }
}

impl Ctx<'_> {
    /// `got` where `expect` admits it; otherwise the error at `span` for
    /// `key`: "got {shown}, expected {expect}". `got` is `None` when the value
    /// is not a number at all (`shown` says what it is).
    pub(super) fn check<T: PartialOrd + Copy>(
        &self,
        span: Range<usize>,
        key: &str,
        shown: impl Display,
        got: Option<T>,
        expect: &Expect<T>,
    ) -> Result<T, SpecError> {
        match got {
            Some(value) if expect.admits(&value) => Ok(value),
            _ => Err(self.err(Some(span), key, format!("got {shown}, expected {}", expect.words))),
        }
    }

    /// [`Ctx::check`] of a number the spec's types already parsed, shown as written.
    pub(super) fn check_at<T: PartialOrd + Copy + Display>(
        &self,
        value: &Spanned<T>,
        key: &str,
        expect: &Expect<T>,
    ) -> Result<T, SpecError> {
        self.check(value.span(), key, value.get_ref(), Some(*value.get_ref()), expect)
    }

    /// [`Ctx::check`] of an optional spanned number: `None` stays `None`.
    pub(super) fn check_opt<T: PartialOrd + Copy + Display>(
        &self,
        value: Option<&Spanned<T>>,
        key: &str,
        expect: &Expect<T>,
    ) -> Result<Option<T>, SpecError> {
        value.map(|v| self.check_at(v, key, expect)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn message<T: PartialOrd + Copy + Display>(got: T, expect: &Expect<T>) -> Option<String> {
        let ctx = Ctx { file: Path::new("s.toml"), source: super::super::Source::Text("a\nb = 1\n") };
        ctx.check(2..3, "b", got, Some(got), expect).err().map(|e| e.to_string())
    }

    #[test]
    fn each_range_admits_its_ends_as_its_words_say_and_names_what_it_got() {
        assert_eq!(message(1, &Expect::whole(1..=1024)), None);
        assert_eq!(message(1024, &Expect::whole(1..=1024)), None);
        assert_eq!(
            message(1025, &Expect::whole(1..=1024)).unwrap(),
            "s.toml:2: b: got 1025, expected a whole number from 1 to 1024"
        );
        assert_eq!(
            message(0, &Expect::whole(1..=1024)).unwrap(),
            "s.toml:2: b: got 0, expected a whole number from 1 to 1024"
        );
        assert_eq!(message(i64::MAX, &Expect::whole_from(0)), None);
        assert_eq!(message(-1, &Expect::whole_from(0)).unwrap(), "s.toml:2: b: got -1, expected a whole number >= 0");
        let resamples = Expect::whole(0..=10).words("a count from 0 (off) to 10");
        assert_eq!(message(0, &resamples), None);
        assert_eq!(message(11, &resamples).unwrap(), "s.toml:2: b: got 11, expected a count from 0 (off) to 10");

        for (x, ok) in [(0.0, false), (1e-9, true), (0.999, true), (1.0, false), (f64::NAN, false)] {
            assert_eq!(message(x, &Expect::fraction()).is_none(), ok, "{x} in (0, 1)");
        }
        for (x, ok) in [(-0.1, false), (0.0, true), (5.0, true), (f64::INFINITY, false), (f64::NAN, false)] {
            assert_eq!(message(x, &Expect::non_negative()).is_none(), ok, "{x} >= 0");
        }
        for (x, ok) in [(0.0, false), (1e-300, true), (f64::INFINITY, true)] {
            assert_eq!(message(x, &Expect::positive()).is_none(), ok, "{x} > 0");
        }
        assert_eq!(message(-2.5, &Expect::positive()).unwrap(), "s.toml:2: b: got -2.5, expected a number > 0");
    }

    #[test]
    fn a_value_that_is_no_number_gets_the_same_message() {
        let ctx = Ctx { file: Path::new("s.toml"), source: super::super::Source::Text("") };
        let err = ctx.check(0..0, "data.cv_folds", "\"five\"", None, &Expect::whole(2..=100)).unwrap_err();
        assert_eq!(err.to_string(), "s.toml:1: data.cv_folds: got \"five\", expected a whole number from 2 to 100");
    }
}
