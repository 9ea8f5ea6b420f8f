//! Shamir's secret sharing, made so that the shares combine with the `ssss` tools packaged in
//! Debian (`ssss-combine -t K -D`), for a break-glass restore where nkp-escrow is not installed.
//!
//! The scheme is the one `ssss` 0.5 uses without its diffusion layer (`-D`):
//!
//! - the field is GF(2^d), d = 8 x the secret's length (8 to 1024 bits), reduced by the
//!   polynomial x^d + x^a + x^b + x^c + 1 that `ssss` uses for that size (only the sizes this
//!   project uses are listed in [`POLYNOMIALS`]);
//! - a field element is the big-endian integer of its bytes (the secret's bytes as they are);
//! - share i (1-based) is f(i) for f(x) = x^K + c_{K-1} x^{K-1} + ... + c_1 x + secret, with
//!   c_1..c_{K-1} random (a known leading term, as `ssss` has: K-1 shares still leave one random
//!   coefficient unknown, so they say nothing of the secret);
//! - a share is written `i-<hex of f(i), 2d/8 digits>`, the index zero-padded to the width of
//!   the number of shares, as `ssss-split` prints it.
//!
//! Field arithmetic is branch-free in the values (masks, not branches), and every value that
//! derives from the secret lives in a zeroizing buffer.

use zeroize::{Zeroize, Zeroizing};

/// The reduction polynomials, as `(degree, [a, b, c])` for x^d + x^a + x^b + x^c + 1, the ones
/// `ssss` 0.5 uses for these sizes: 256 bits (a 32-byte key) and 592 bits (an age identity,
/// `AGE-SECRET-KEY-1...`, 74 characters).
pub const POLYNOMIALS: [(usize, [usize; 3]); 2] = [(256, [10, 5, 2]), (592, [13, 6, 3])];

/// Why shares could not be made or combined. Never carries secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShamirError {
    /// The secret's size has no field here.
    #[error("a secret of {0} bytes is not supported (32 or 74 bytes)")]
    Size(usize),
    /// K and N out of range.
    #[error("threshold {k} of {n} shares: need 2 <= K <= N <= 255")]
    Threshold {
        /// K.
        k: usize,
        /// N.
        n: usize,
    },
    /// A share that does not parse.
    #[error("share {0}: not `<index>-<hex>` of a supported size")]
    Malformed(usize),
    /// Shares of different sizes, or the same index twice, or too few.
    #[error("the shares do not belong together: {0}")]
    Inconsistent(&'static str),
    /// No randomness.
    #[error("the system's random source failed")]
    Random,
}

/// One share: its index (the x coordinate, 1..=255) and f(index).
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    /// 1-based index.
    pub index: u8,
    value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share({}, [REDACTED])", self.index)
    }
}

impl Share {
    /// `i-<hex>`, as `ssss-split` prints it, the index padded to the width of `of` shares.
    pub fn to_text(&self, of: usize) -> Zeroizing<String> {
        let width = of.to_string().len();
        // Sized once: a growing string would leave copies of the share behind.
        let mut s = Zeroizing::new(String::with_capacity(
            width.max(3) + 2 + 2 * self.value.len(),
        ));
        s.push_str(&format!("{:0width$}-", self.index));
        for b in self.value.iter() {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// Parse `i-<hex>` or `token-i-<hex>` (what `ssss-combine` accepts). `n` numbers the share
    /// in messages.
    pub fn parse(text: &str, n: usize) -> Result<Self, ShamirError> {
        let t = text.trim();
        let mut parts = t.rsplitn(3, '-');
        let hex = parts.next().ok_or(ShamirError::Malformed(n))?;
        let idx = parts.next().ok_or(ShamirError::Malformed(n))?;
        let index: u8 = idx.parse().map_err(|_| ShamirError::Malformed(n))?;
        if index == 0 || hex.len() % 2 != 0 || field_of(hex.len() / 2).is_none() {
            return Err(ShamirError::Malformed(n));
        }
        let mut value = Zeroizing::new(vec![0u8; hex.len() / 2]);
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let d = |c: u8| char::from(c).to_digit(16).ok_or(ShamirError::Malformed(n));
            value[i] = u8::try_from(d(pair[0])? * 16 + d(pair[1])?)
                .map_err(|_| ShamirError::Malformed(n))?;
        }
        Ok(Self { index, value })
    }
}

/// The field for a secret of `len` bytes.
fn field_of(len: usize) -> Option<Field> {
    POLYNOMIALS
        .iter()
        .find(|(d, _)| *d == len * 8)
        .map(|(d, t)| Field::new(*d, *t))
}

/// GF(2^d) with elements as little-endian 64-bit limbs.
struct Field {
    degree: usize,
    limbs: usize,
    /// The reduction polynomial without its x^d term.
    low: Vec<u64>,
}

type Elem = Zeroizing<Vec<u64>>;

impl Field {
    fn new(degree: usize, taps: [usize; 3]) -> Self {
        let limbs = degree.div_ceil(64);
        let mut low = vec![0u64; limbs];
        for t in [0, taps[0], taps[1], taps[2]] {
            low[t / 64] |= 1 << (t % 64);
        }
        Self { degree, limbs, low }
    }

    fn zero(&self) -> Elem {
        Zeroizing::new(vec![0u64; self.limbs])
    }

    fn small(&self, v: u64) -> Elem {
        let mut e = self.zero();
        e[0] = v;
        e
    }

    /// Big-endian bytes (exactly d/8 of them) to an element.
    fn elem(&self, b: &[u8]) -> Elem {
        let mut e = self.zero();
        for (i, byte) in b.iter().rev().enumerate() {
            e[i / 8] |= u64::from(*byte) << (8 * (i % 8));
        }
        e
    }

    fn to_bytes(&self, e: &[u64]) -> Zeroizing<Vec<u8>> {
        let n = self.degree / 8;
        let mut out = Zeroizing::new(vec![0u8; n]);
        for i in 0..n {
            // Truncation to the byte is the point.
            #[allow(clippy::cast_possible_truncation)]
            let byte = (e[i / 8] >> (8 * (i % 8))) as u8;
            out[n - 1 - i] = byte;
        }
        out
    }

    fn add_assign(&self, a: &mut [u64], b: &[u64]) {
        for (x, y) in a.iter_mut().zip(b) {
            *x ^= y;
        }
    }

    /// a * x, reduced, in place; branch-free in the value.
    fn times_x(&self, a: &mut [u64]) {
        let top = (a[(self.degree - 1) / 64] >> ((self.degree - 1) % 64)) & 1;
        let mut carry = 0u64;
        for limb in a.iter_mut() {
            let next = *limb >> 63;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        // Clear bit d (it moved out of the field) and reduce by the mask of the old top bit.
        let d = self.degree;
        if !d.is_multiple_of(64) {
            a[d / 64] &= !(1u64 << (d % 64));
        }
        let mask = 0u64.wrapping_sub(top);
        for (x, p) in a.iter_mut().zip(&self.low) {
            *x ^= p & mask;
        }
    }

    fn mul(&self, a: &[u64], b: &[u64]) -> Elem {
        let mut r = self.zero();
        let mut a = Zeroizing::new(a.to_vec());
        for i in 0..self.degree {
            let bit = (b[i / 64] >> (i % 64)) & 1;
            let mask = 0u64.wrapping_sub(bit);
            for (x, y) in r.iter_mut().zip(a.iter()) {
                *x ^= y & mask;
            }
            self.times_x(&mut a);
        }
        r
    }

    /// a^(2^d - 2) = a^-1 (for a != 0).
    fn inv(&self, a: &[u64]) -> Elem {
        // 2^d - 2 = binary 11...110: square-and-multiply over d-1 ones and a final zero.
        let mut result = self.small(1);
        let mut base = Zeroizing::new(a.to_vec());
        // bit 0 is 0; bits 1..d-1 are 1.
        base = self.mul(&base, &base);
        for _ in 1..self.degree {
            result = self.mul(&result, &base);
            base = self.mul(&base, &base);
        }
        result
    }

    fn pow_small(&self, x: &[u64], e: usize) -> Elem {
        let mut r = self.small(1);
        for _ in 0..e {
            r = self.mul(&r, x);
        }
        r
    }
}

/// Split `secret` (32 or 74 bytes) into `n` shares, any `k` of which give it back.
pub fn split(secret: &[u8], k: usize, n: usize) -> Result<Vec<Share>, ShamirError> {
    if !(2..=255).contains(&k) || k > n || n > 255 {
        return Err(ShamirError::Threshold { k, n });
    }
    let field = field_of(secret.len()).ok_or(ShamirError::Size(secret.len()))?;
    let rng = ring::rand::SystemRandom::new();
    let mut coeffs: Vec<Elem> = vec![field.elem(secret)];
    for _ in 1..k {
        let mut bytes = Zeroizing::new(vec![0u8; secret.len()]);
        ring::rand::SecureRandom::fill(&rng, &mut bytes).map_err(|_| ShamirError::Random)?;
        coeffs.push(field.elem(&bytes));
    }
    let mut shares = Vec::with_capacity(n);
    for i in 1..=n {
        let x = field.small(i as u64);
        // Horner on x^k + c_{k-1} x^{k-1} + ... + c_0.
        let mut y = Zeroizing::new(x.to_vec());
        for c in coeffs[1..].iter().rev() {
            field.add_assign(&mut y, c);
            y = field.mul(&y, &x);
        }
        field.add_assign(&mut y, &coeffs[0]);
        shares.push(Share {
            index: u8::try_from(i).map_err(|_| ShamirError::Threshold { k, n })?,
            value: field.to_bytes(&y),
        });
    }
    for c in &mut coeffs {
        c.zeroize();
    }
    Ok(shares)
}

/// The secret from `k` (or more: the first `k` are used) shares of a `k`-of-n split.
pub fn combine(shares: &[Share], k: usize) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if k < 2 || shares.len() < k {
        return Err(ShamirError::Inconsistent("fewer shares than the threshold"));
    }
    let shares = &shares[..k];
    let len = shares[0].value.len();
    if shares.iter().any(|s| s.value.len() != len) {
        return Err(ShamirError::Inconsistent("shares of different sizes"));
    }
    for (i, a) in shares.iter().enumerate() {
        if shares[..i].iter().any(|b| b.index == a.index) {
            return Err(ShamirError::Inconsistent("the same share twice"));
        }
    }
    let field = field_of(len).ok_or(ShamirError::Size(len))?;
    // Lagrange at 0 on y_j + x_j^k (the known leading term taken off).
    let xs: Vec<Elem> = shares
        .iter()
        .map(|s| field.small(u64::from(s.index)))
        .collect();
    let mut secret = field.zero();
    for (j, s) in shares.iter().enumerate() {
        let mut y = field.elem(&s.value);
        field.add_assign(&mut y, &field.pow_small(&xs[j], k));
        let mut num = field.small(1);
        let mut den = field.small(1);
        for (m, xm) in xs.iter().enumerate() {
            if m != j {
                num = field.mul(&num, xm);
                let mut diff = Zeroizing::new(xs[j].to_vec());
                field.add_assign(&mut diff, xm);
                den = field.mul(&den, &diff);
            }
        }
        let term = field.mul(&y, &field.mul(&num, &field.inv(&den)));
        field.add_assign(&mut secret, &term);
    }
    Ok(field.to_bytes(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn any_k_shares_give_the_secret_back() {
        let secret = b"AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        assert_eq!(secret.len(), 74);
        let shares = split(secret, 2, 3).expect("split");
        for pair in [[0, 1], [0, 2], [1, 2], [2, 0]] {
            let two = [shares[pair[0]].clone(), shares[pair[1]].clone()];
            assert_eq!(combine(&two, 2).expect("combine").as_slice(), secret);
        }
        let key = [0xabu8; 32];
        let shares = split(&key, 3, 5).expect("split");
        let three = [shares[4].clone(), shares[0].clone(), shares[2].clone()];
        assert_eq!(combine(&three, 3).expect("combine").as_slice(), key);
    }

    #[test]
    fn a_known_ssss_split_combines() {
        // `echo 00..00ab | ssss-split -t 3 -n 5 -x -D -q -s 256`, shares 2, 4 and 5.
        let text = [
            "2-8a68aa68dd428567664308f5f67ec30e28c1e9e0d57b28ee534910b83872a3e5",
            "4-348be8ce839fec1df54714b23b99b2f8329f8672286b1ebc381ac16845134c92",
            "5-75b4ea790a1df274215eb063fa4a55e3aa9cf83432852327026f55375f94dcfe",
        ];
        let shares: Vec<Share> = text
            .iter()
            .enumerate()
            .map(|(i, t)| Share::parse(t, i + 1).expect("parse"))
            .collect();
        let mut want = [0u8; 32];
        want[31] = 0xab;
        assert_eq!(combine(&shares, 3).expect("combine").as_slice(), want);
    }

    #[test]
    fn shares_print_and_parse_as_ssss_does() {
        let shares = split(&[7u8; 32], 2, 12).expect("split");
        let t = shares[0].to_text(12);
        assert!(t.starts_with("01-") && t.len() == 3 + 64, "{}", t.as_str());
        assert_eq!(Share::parse(&t, 1).expect("parse"), shares[0]);
        assert_eq!(
            Share::parse(&format!("tok-{}", t.as_str()), 1).expect("token"),
            shares[0]
        );
        assert_eq!(format!("{:?}", shares[0]), "Share(1, [REDACTED])");
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert_eq!(split(&[1u8; 31], 2, 3), Err(ShamirError::Size(31)));
        assert!(matches!(
            split(&[1u8; 32], 1, 3),
            Err(ShamirError::Threshold { .. })
        ));
        assert!(matches!(
            split(&[1u8; 32], 4, 3),
            Err(ShamirError::Threshold { .. })
        ));
        let s = split(&[1u8; 32], 2, 3).expect("split");
        assert!(combine(&s[..1], 2).is_err());
        assert!(combine(&[s[0].clone(), s[0].clone()], 2).is_err());
        for bad in ["", "0-00", "1-zz", "x-00", "1-0", "300-00"] {
            assert!(Share::parse(bad, 1).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn round_trip(secret in proptest::collection::vec(any::<u8>(), 32..=32), k in 2usize..5, extra in 0usize..3) {
            let n = k + extra;
            let shares = split(&secret, k, n).expect("split");
            let back = combine(&shares[extra..], k).expect("combine");
            prop_assert_eq!(back.as_slice(), secret.as_slice());
        }

        #[test]
        fn arbitrary_share_text_never_panics(t in "\\PC{0,200}") {
            let _ = Share::parse(&t, 1);
        }
    }
}
