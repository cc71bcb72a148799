//! Sizes (`"2GB"`, `"512MB"`) and durations (`"10m"`, `"1h30m"`) as users write them.

/// A problem with a size or duration, and how to write it instead.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitError {
    pub message: String,
    pub hint: String,
}

fn unit_err(message: impl Into<String>, hint: &str) -> UnitError {
    UnitError {
        message: message.into(),
        hint: hint.into(),
    }
}

const SIZE_HINT: &str =
    "write a whole number or decimal with a unit: \"512MB\", \"2GB\" (K, M, G, T; binary multiples)";
const DURATION_HINT: &str = "write a number with a unit: \"30s\", \"10m\", \"2h\", or combined: \"1h30m\"";

/// Parses a size into MiB. Units are binary multiples, as QEMU reads them: `1GB` = `1GiB` = 1024 MiB.
/// `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`, any case. The result must be a
/// positive whole number of MiB.
pub fn size_mib(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(unit_err("the size is empty", SIZE_HINT));
    }
    if s.starts_with('-') {
        return Err(unit_err(format!("size \"{text}\" is negative"), SIZE_HINT));
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim());
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1 {
        return Err(unit_err(format!("\"{text}\" is not a size"), SIZE_HINT));
    }
    let kib_per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 1 << 10,
        "g" | "gb" | "gib" => 1 << 20,
        "t" | "tb" | "tib" => 1 << 30,
        "" => return Err(unit_err(format!("size \"{text}\" has no unit"), SIZE_HINT)),
        other => {
            return Err(unit_err(
                format!("unknown size unit \"{other}\" in \"{text}\""),
                SIZE_HINT,
            ));
        }
    };
    // Exact decimal arithmetic in KiB: "1.5GB" is 1572864 KiB, no float rounding.
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if frac.len() > 6 {
        return Err(unit_err(
            format!("\"{text}\" has more decimals than a size needs"),
            SIZE_HINT,
        ));
    }
    let scale = 10u64.pow(frac.len() as u32);
    let digits: u64 = format!("{whole}{frac}")
        .parse()
        .map_err(|_| unit_err(format!("size \"{text}\" is too large"), SIZE_HINT))?;
    let kib = digits
        .checked_mul(kib_per_unit)
        .map(|v| v / scale)
        .filter(|v| *v <= 1 << 40)
        .ok_or_else(|| unit_err(format!("size \"{text}\" is too large"), SIZE_HINT))?;
    if kib == 0 {
        return Err(unit_err(
            format!("size \"{text}\" is zero"),
            "give a size greater than zero",
        ));
    }
    if kib % 1024 != 0 {
        return Err(unit_err(
            format!("size \"{text}\" is not a whole number of MiB"),
            "sizes are counted in MiB: write \"512MB\" or \"1GB\"",
        ));
    }
    Ok(kib / 1024)
}

/// Parses a duration into seconds: one or more `<number><unit>` with units `s`, `m`, `h`, `d`.
pub fn duration_secs(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(unit_err("the duration is empty", DURATION_HINT));
    }
    if s.starts_with('-') {
        return Err(unit_err(format!("duration \"{text}\" is negative"), DURATION_HINT));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if split == 0 {
            return Err(unit_err(format!("\"{text}\" is not a duration"), DURATION_HINT));
        }
        let n: u64 = rest[..split]
            .parse()
            .map_err(|_| unit_err(format!("duration \"{text}\" is too long"), DURATION_HINT))?;
        rest = &rest[split..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let per: u64 = match &rest[..unit_len] {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" => 86400,
            "" => return Err(unit_err(format!("duration \"{text}\" has no unit"), DURATION_HINT)),
            other => {
                return Err(unit_err(
                    format!("unknown duration unit \"{other}\" in \"{text}\""),
                    DURATION_HINT,
                ));
            }
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= 366 * 86400)
            .ok_or_else(|| unit_err(format!("duration \"{text}\" is longer than a year"), DURATION_HINT))?;
    }
    if total == 0 {
        return Err(unit_err(
            format!("duration \"{text}\" is zero"),
            "give a deadline greater than zero",
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size_mib("2GB"), Ok(2048));
        assert_eq!(size_mib("512MB"), Ok(512));
        assert_eq!(size_mib("512mib"), Ok(512));
        assert_eq!(size_mib("1.5G"), Ok(1536));
        assert_eq!(size_mib("1T"), Ok(1 << 20));
        assert_eq!(size_mib("2048K"), Ok(2));
        for bad in [
            "",
            "GB",
            "2",
            "2XB",
            "-1GB",
            "0MB",
            "0.0001MB",
            "1.2.3GB",
            ".5G",
            "99999999999999999999GB",
            "5000TB",
        ] {
            assert!(size_mib(bad).is_err(), "{bad} should be refused");
        }
        assert!(size_mib("0GB").unwrap_err().message.contains("zero"));
        assert!(size_mib("2").unwrap_err().message.contains("no unit"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration_secs("10m"), Ok(600));
        assert_eq!(duration_secs("30s"), Ok(30));
        assert_eq!(duration_secs("1h30m"), Ok(5400));
        assert_eq!(duration_secs("2d"), Ok(172800));
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "-5m",
            "0s",
            "1.5h",
            "99999999999999999999s",
            "400d",
            "10 m",
        ] {
            assert!(duration_secs(bad).is_err(), "{bad} should be refused");
        }
    }
}
