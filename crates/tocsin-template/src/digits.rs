//! Decimal digits of floats, for Go's `strconv.FormatFloat`: shortest
//! round-trip digits, and digits rounded to a number of significant digits
//! or of decimals. Formatting allocates nothing for ordinary precisions.
//!
//! Rounding at a fixed precision (`%.2f`, `humanize`'s `%.4g`) is done
//! with exact integer arithmetic on the float's mantissa and exponent when
//! the scaled value fits in 128 bits; otherwise (and on exact ties, where
//! the rounding rule matters) Rust's exact formatting decides. Both round
//! the exact binary value, as Go does.

use std::fmt::Write;

/// Decimal digits and exponent of a float: value = 0.d1d2d3... × 10^dp.
/// Up to [`INLINE_DIGITS`] digits live on the stack; only huge `printf`
/// precisions spill to the heap.
pub(crate) struct Digits {
    inline: [u8; INLINE_DIGITS],
    heap: Vec<u8>,
    len: usize,
    pub dp: i32,
}

const INLINE_DIGITS: usize = 40;

/// Most significant decimal digits in an f64's exact expansion (767),
/// rounded up.
const MAX_SIGNIFICANT_DIGITS: usize = 800;
/// Most fractional decimal digits in an f64's exact expansion (2^-1074).
const MAX_FRACTION_DIGITS: usize = 1074;

impl Digits {
    fn new() -> Self {
        Digits {
            inline: [0; INLINE_DIGITS],
            heap: Vec::new(),
            len: 0,
            dp: 0,
        }
    }

    pub(crate) fn digits(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn push(&mut self, b: u8) {
        if self.heap.is_empty() && self.len < INLINE_DIGITS {
            self.inline[self.len] = b;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.inline[..self.len]);
            }
            self.heap.push(b);
        }
        self.len += 1;
    }

    fn pop_trailing_zeros(&mut self) {
        while self.len > 1 && self.digits().last() == Some(&b'0') {
            self.len -= 1;
            if !self.heap.is_empty() {
                self.heap.pop();
            }
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.digits() == [b'0']
    }

    /// The digits of `q` (> 0) with exponent `dp`, trailing zeros trimmed.
    fn from_u64(mut q: u64, dp: i32) -> Self {
        let mut rev = [0u8; 20];
        let mut n = 0;
        loop {
            rev[n] = b'0' + (q % 10) as u8;
            n += 1;
            q /= 10;
            if q == 0 {
                break;
            }
        }
        let mut d = Digits::new();
        for &b in rev[..n].iter().rev() {
            d.push(b);
        }
        d.dp = dp;
        d.pop_trailing_zeros();
        d
    }

    fn zero() -> Self {
        let mut d = Digits::new();
        d.push(b'0');
        d.dp = 1;
        d
    }
}

/// Collects Rust's `{:e}` output (`d.ddde-N`) into [`Digits`] as it is
/// written, without an intermediate String.
struct SciSink {
    d: Digits,
    exp: i32,
    exp_neg: bool,
    in_exp: bool,
}

impl Write for SciSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            match b {
                b'e' => self.in_exp = true,
                b'-' if self.in_exp => self.exp_neg = true,
                b'0'..=b'9' if self.in_exp => {
                    self.exp = self
                        .exp
                        .saturating_mul(10)
                        .saturating_add((b - b'0') as i32)
                }
                b'0'..=b'9' => self.d.push(b),
                _ => {}
            }
        }
        Ok(())
    }
}

fn sci_digits(args: std::fmt::Arguments) -> Digits {
    let mut sink = SciSink {
        d: Digits::new(),
        exp: 0,
        exp_neg: false,
        in_exp: false,
    };
    let _ = sink.write_fmt(args);
    let mut d = sink.d;
    if d.digits().iter().all(|&b| b == b'0') {
        return Digits::zero();
    }
    let exp = if sink.exp_neg { -sink.exp } else { sink.exp };
    d.dp = exp + 1;
    d
}

/// Shortest round-trip digits (what Go's strconv uses for precision -1).
pub(crate) fn shortest(v: f64) -> Digits {
    // Rust's `{:e}` prints the shortest round-trip representation.
    sci_digits(format_args!("{:e}", v.abs()))
}

/// Digits of finite `v` rounded to `n` significant digits (n ≥ 1),
/// trailing zeros trimmed.
pub(crate) fn rounded_sig(v: f64, n: usize) -> Digits {
    fast_sig(v, n).unwrap_or_else(|| exact_sig(v, n))
}

/// Digits of finite `v` rounded to `prec` decimals, when exact integer
/// arithmetic settles it (None: use [`exact_fixed`]).
pub(crate) fn fixed(v: f64, prec: i32) -> Option<Digits> {
    if v == 0.0 {
        return Some(Digits::zero());
    }
    let q = scaled_round(v, prec)?;
    if q == 0 {
        return Some(Digits::zero());
    }
    let q = u64::try_from(q).ok()?;
    let len = q.ilog10() as i32 + 1;
    Some(Digits::from_u64(q, len - prec))
}

/// `|v|` to `prec` decimals by Rust's exact formatting (slow: big-number
/// arithmetic whenever Grisu cannot decide).
pub(crate) fn exact_fixed(out: &mut String, v: f64, prec: usize) {
    // An f64's expansion ends within 1074 fractional digits: format those
    // (Rust's fmt panics past u16::MAX) and pad the rest with zeros.
    let exact = prec.min(MAX_FRACTION_DIGITS);
    let _ = write!(out, "{:.*}", exact, v.abs());
    out.extend(std::iter::repeat_n('0', prec - exact));
}

/// `rounded_sig` by Rust's exact formatting.
fn exact_sig(v: f64, n: usize) -> Digits {
    // Rust's fmt panics on precisions over u16::MAX; an f64 has at most
    // 767 significant decimal digits, so later digits are zeros (trimmed
    // below, printed as padding by the callers).
    let n = n.min(MAX_SIGNIFICANT_DIGITS);
    let mut d = sci_digits(format_args!("{:.*e}", n - 1, v.abs()));
    d.pop_trailing_zeros();
    d
}

/// Most significant digits [`fast_sig`] handles (the result fits a u64).
const FAST_SIG_MAX_DIGITS: usize = 17;

/// `rounded_sig` by integer arithmetic, or None.
fn fast_sig(v: f64, n: usize) -> Option<Digits> {
    if v == 0.0 {
        return Some(Digits::zero());
    }
    if n == 0 || n > FAST_SIG_MAX_DIGITS || !v.is_normal() {
        return None;
    }
    let n = n as i32;
    // dp such that |v| = 0.ddd × 10^dp; log10 may be off by one near
    // powers of ten, which the checks below correct.
    let mut dp = v.abs().log10().floor() as i32 + 1;
    let lo = 10u128.pow(n as u32 - 1);
    let hi = lo * 10;
    for _ in 0..3 {
        let (floor, up) = scaled(v, n - dp)?;
        if floor >= hi {
            dp += 1;
        } else if floor < lo {
            dp -= 1;
        } else if floor + u128::from(up) == hi {
            // 99.96 to 3 digits: the carry makes "1" one place up.
            return Some(Digits::from_u64(1, dp + 1));
        } else {
            return Some(Digits::from_u64((floor + u128::from(up)) as u64, dp));
        }
    }
    None
}

/// `round(|v| × 10^p)` computed exactly, for finite normal `v`; None if
/// an intermediate exceeds 128 bits or on an exact tie.
fn scaled_round(v: f64, p: i32) -> Option<u128> {
    let (floor, up) = scaled(v, p)?;
    Some(floor + u128::from(up))
}

/// `floor(|v| × 10^p)` and whether rounding to nearest goes up, computed
/// exactly; None if an intermediate exceeds 128 bits or on an exact tie.
fn scaled(v: f64, p: i32) -> Option<(u128, bool)> {
    let bits = v.abs().to_bits();
    let exp_bits = (bits >> 52) as i32;
    if exp_bits == 0 || exp_bits == 0x7ff {
        return None;
    }
    // |v| = m × 2^e exactly.
    let m = ((bits & ((1 << 52) - 1)) | (1 << 52)) as u128;
    let e = exp_bits - 1075;
    // |v| × 10^p = num / den, num and den integers.
    let (mut num, mut den) = (m, 1u128);
    if p >= 0 {
        num = num.checked_mul(pow10(p as u32)?)?;
    } else {
        den = pow10(p.unsigned_abs())?;
    }
    if e >= 0 {
        num = shl(num, e as u32)?;
    } else {
        den = shl(den, e.unsigned_abs())?;
    }
    let (q, r) = (num / den, num % den);
    let rest = den - r;
    if r == rest {
        return None;
    }
    Some((q, r > rest))
}

fn pow10(k: u32) -> Option<u128> {
    10u128.checked_pow(k)
}

/// `x << k`, None if bits would be lost.
fn shl(x: u128, k: u32) -> Option<u128> {
    if k >= 128 || x.leading_zeros() < k {
        return None;
    }
    Some(x << k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic doubles spread over many magnitudes, plus values that
    /// sit on or next to decimal ties and powers of ten.
    fn sample_floats() -> Vec<f64> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut out = Vec::new();
        for _ in 0..8_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exp = (x % 60) as i32 - 30;
            out.push(mantissa * 10f64.powi(exp));
        }
        for i in 0..2_000 {
            let tie = (i as f64 + 0.5) / 1000.0;
            out.extend([tie, tie.next_up(), tie.next_down(), i as f64 * 0.125]);
        }
        for k in -30..30 {
            let p = 10f64.powi(k);
            out.extend([p, p.next_up(), p.next_down(), 9.5 * p, 9.95 * p, 9.9999 * p]);
        }
        out.extend([
            1234.5678,
            2.675,
            0.125,
            0.375,
            999.9995,
            9.9999999995,
            0.0,
            -0.0,
        ]);
        out.extend([1e-300, 5e-324, 1.7976931348623157e308, 0.1, 0.7, 1.0 / 3.0]);
        out.extend([
            2f64.powi(70),
            2f64.powi(100) + 2f64.powi(48),
            123456789012345680.0,
        ]);
        out
    }

    #[test]
    fn integer_rounding_matches_exact_formatting() {
        for v in sample_floats() {
            for v in [v, -v] {
                for n in 1..=FAST_SIG_MAX_DIGITS + 1 {
                    let exact = exact_sig(v, n);
                    if let Some(fast) = fast_sig(v, n) {
                        assert_eq!(
                            (fast.digits(), fast.dp),
                            (exact.digits(), exact.dp),
                            "{v:e} to {n} digits"
                        );
                    }
                }
                for prec in 0..25 {
                    let mut want = String::new();
                    exact_fixed(&mut want, v, prec as usize);
                    if let Some(d) = fixed(v, prec) {
                        let mut got = String::new();
                        crate::gofmt::fmt_f(&mut got, false, &d, prec as usize);
                        assert_eq!(got, want, "{v:e} with %.{prec}f");
                    }
                }
            }
        }
    }

    #[test]
    fn common_alert_values_take_the_integer_path() {
        assert!(fast_sig(1234.5678, 4).is_some());
        assert!(fixed(1234.5678, 2).is_some());
        assert!(fast_sig(0.000123, 4).is_some());
    }
}
