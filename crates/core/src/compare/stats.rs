//! Number summaries of a group of trials: the original's `{count, min, median, max, best}`, and
//! the ranked form in which invalid trials really count as the worst results.

use super::report::NumberSummary;

/// The original's summary over the numeric values: median is the mean of the two middle values
/// for an even count; `best` is the max when higher is better, else the min.
pub fn number_summary(values: &[f64], higher_is_better: bool) -> NumberSummary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return NumberSummary::default();
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let (min, max) = (v[0], v[n - 1]);
    NumberSummary {
        count: n as u64,
        min: Some(min),
        median: Some(median),
        max: Some(max),
        best: Some(if higher_is_better { max } else { min }),
        ..NumberSummary::default()
    }
}

/// A summary in which `invalid` trials rank below every valid value: they sit at the worst end
/// (the bottom when higher is better, the top otherwise). A statistic that lands on an invalid
/// trial is null and named in `invalid_stats`; the valid values alone are in `valid_only`.
/// `count` stays the number of valid values (as in the original); `ranked_count` includes the
/// invalid trials.
pub fn ranked_summary(valid: &[f64], invalid: usize, higher_is_better: bool) -> NumberSummary {
    let mut numbers: Vec<f64> = valid.iter().copied().filter(|x| x.is_finite()).collect();
    numbers.sort_by(f64::total_cmp);
    // Ascending order with the invalid entries as ±∞.
    let mut ranked: Vec<Option<f64>> = Vec::with_capacity(numbers.len() + invalid);
    if higher_is_better {
        ranked.extend(std::iter::repeat_n(None, invalid));
        ranked.extend(numbers.iter().copied().map(Some));
    } else {
        ranked.extend(numbers.iter().copied().map(Some));
        ranked.extend(std::iter::repeat_n(None, invalid));
    }
    let mut s = NumberSummary {
        count: numbers.len() as u64,
        ranked_count: Some(ranked.len() as u64),
        invalid_count: Some(invalid as u64),
        valid_only: Some(Box::new(number_summary(&numbers, higher_is_better))),
        ..NumberSummary::default()
    };
    let n = ranked.len();
    if n == 0 {
        s.invalid_stats = Some(Vec::new());
        return s;
    }
    let median = if n % 2 == 1 {
        ranked[n / 2]
    } else {
        ranked[n / 2 - 1]
            .zip(ranked[n / 2])
            .map(|(a, b)| (a + b) / 2.0)
    };
    let (min, max) = (ranked[0], ranked[n - 1]);
    let best = if higher_is_better { max } else { min };
    let mut invalid_stats = Vec::new();
    for (name, value) in [
        ("min", min),
        ("median", median),
        ("max", max),
        ("best", best),
    ] {
        if value.is_none() {
            invalid_stats.push(name.to_string());
        }
    }
    s.min = min;
    s.median = median;
    s.max = max;
    s.best = best;
    s.invalid_stats = Some(invalid_stats);
    s
}

/// The median of a list (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    number_summary(values, true).median
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_summary() {
        let s = number_summary(&[3.0, 1.0, 2.0, 10.0], false);
        assert_eq!(
            (s.count, s.min, s.median, s.max, s.best),
            (4, Some(1.0), Some(2.5), Some(10.0), Some(1.0))
        );
        let s = number_summary(&[], true);
        assert_eq!((s.count, s.median, s.best), (0, None, None));
    }

    #[test]
    fn invalid_trials_rank_worst() {
        // Lower is better: invalid trials sit above every valid value.
        let s = ranked_summary(&[5.0, 1.0], 1, false);
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.median, Some(5.0));
        assert_eq!(s.max, None);
        assert_eq!(s.best, Some(1.0));
        assert_eq!(s.invalid_stats.as_deref(), Some(&["max".to_string()][..]));
        // Higher is better: two invalid out of three puts the median on an invalid trial.
        let s = ranked_summary(&[7.0], 2, true);
        assert_eq!(
            (s.min, s.median, s.max, s.best),
            (None, None, Some(7.0), Some(7.0))
        );
        assert_eq!(s.count, 1);
        assert_eq!(s.ranked_count, Some(3));
        assert_eq!(s.valid_only.as_ref().unwrap().median, Some(7.0));
        // Even count straddling an invalid entry: the median is invalid.
        let s = ranked_summary(&[2.0], 1, true);
        assert_eq!(s.median, None);
        // Nothing at all.
        let s = ranked_summary(&[], 0, true);
        assert_eq!((s.count, s.best), (0, None));
    }
}
