//! Kubernetes resource quantities (`500m`, `2`, `32Gi`, `1e3`) as exact integers in milli-units, which is
//! enough to compare requests with allocatable without floating-point drift.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("quantity {0:?} is not a valid Kubernetes quantity")]
pub struct QuantityError(pub String);

/// Parses a quantity into thousandths of its unit (cpu `500m` → 500, memory `1Ki` → 1_024_000).
/// Fractions below a milli-unit are rounded up, as the API server rounds requests up.
pub fn parse_milli(s: &str) -> Result<i128, QuantityError> {
    let err = || QuantityError(s.to_string());
    let t = s.trim();
    if t.is_empty() {
        return Err(err());
    }
    let (sign, body) = match t.as_bytes()[0] {
        b'-' => (-1i128, &t[1..]),
        b'+' => (1, &t[1..]),
        _ => (1, t),
    };
    let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (num, suffix) = body.split_at(num_end);
    if num.is_empty() || num.matches('.').count() > 1 || num == "." {
        return Err(err());
    }
    // Value = digits / 10^frac_len, kept as a big integer numerator.
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let digits = format!("{int_part}{frac_part}");
    let mantissa: i128 = digits.parse().map_err(|_| err())?;
    let frac_len = frac_part.len() as u32;
    // Multiplier as numerator/denominator relative to milli-units.
    let (mul_num, mul_den): (i128, i128) = match suffix {
        "" => (1_000, 1),
        "m" => (1, 1),
        "k" => (1_000_000, 1),
        "M" => (1_000_000_000, 1),
        "G" => (1_000_000_000_000, 1),
        "T" => (1_000_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000_000, 1),
        "Ki" => (1_024_000, 1),
        "Mi" => (1_000 << 20, 1),
        "Gi" => (1_000 << 30, 1),
        "Ti" => (1_000 << 40, 1),
        "Pi" => (1_000 << 50, 1),
        "Ei" => (1_000 << 60, 1),
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| err())?;
            if !(-18..=18).contains(&exp) {
                return Err(err());
            }
            if exp >= -3 { (10i128.pow((exp + 3) as u32), 1) } else { (1, 10i128.pow((-exp - 3) as u32)) }
        }
        _ => return Err(err()),
    };
    let den = 10i128.pow(frac_len).checked_mul(mul_den).ok_or_else(err)?;
    let numer = mantissa.checked_mul(mul_num).ok_or_else(err)?;
    // Round up to the next milli-unit.
    let value = (numer + den - 1) / den;
    Ok(sign * value)
}

/// Parses a quantity into whole units (bytes for memory/storage), rounding up.
pub fn parse_units(s: &str) -> Result<i128, QuantityError> {
    let milli = parse_milli(s)?;
    Ok((milli + 999).div_euclid(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(parse_milli("500m"), Ok(500));
        assert_eq!(parse_milli("2"), Ok(2_000));
        assert_eq!(parse_milli("1.5"), Ok(1_500));
        assert_eq!(parse_milli("0.1"), Ok(100));
    }

    #[test]
    fn memory_forms() {
        assert_eq!(parse_units("32Gi"), Ok(32 << 30));
        assert_eq!(parse_units("512Mi"), Ok(512 << 20));
        assert_eq!(parse_units("1G"), Ok(1_000_000_000));
        assert_eq!(parse_units("1e3"), Ok(1_000));
        assert_eq!(parse_units("1.5Gi"), Ok(3 << 29));
        assert_eq!(parse_units("129M"), Ok(129_000_000));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_milli("").is_err());
        assert!(parse_milli("abc").is_err());
        assert!(parse_milli("1Qi").is_err());
        assert!(parse_milli("1..2").is_err());
    }
}
