//! Latency percentiles from raw samples (microseconds), and their formatting.

/// Nearest-rank percentiles of one set of samples.
#[derive(Clone, Copy, Debug, Default)]
pub struct Percentiles {
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub p999: u32,
    pub max: u32,
}

impl Percentiles {
    pub fn of(samples: &mut [u32]) -> Self {
        samples.sort_unstable();
        Self {
            p50: rank(samples, 0.50),
            p90: rank(samples, 0.90),
            p99: rank(samples, 0.99),
            p999: rank(samples, 0.999),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

/// The smallest sample that at least `q` of all samples are at or below.
fn rank(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let k = (q * n as f64).ceil() as usize;
    sorted[k.clamp(1, n) - 1]
}

/// Microseconds as milliseconds, e.g. `3.42 ms`.
pub fn ms(us: u32) -> String {
    format!("{:.2} ms", f64::from(us) / 1000.0)
}

/// A count with thousands separators: `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.p50, p.p90, p.p99, p.p999, p.max), (50, 90, 99, 100, 100));
        assert_eq!(Percentiles::of(&mut []).max, 0);
        assert_eq!(rank(&[7], 0.5), 7);
    }

    #[test]
    fn formatting() {
        assert_eq!(ms(3420), "3.42 ms");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
