//! Quantities with units in a topology file: times (`"10ms"`, or a number of seconds),
//! link bandwidths in bits (`"10Mb/s"`) and traffic rates in bytes (`"176.4kB/s"`).
//!
//! Bandwidths and rates must carry their unit: a bare number could be bits or bytes,
//! and the paper's own figures (`176kb/s` for CD audio, which is 176.4 kilo*bytes* per
//! second) show how easily the two are confused. `b` is a bit and `B` a byte; `k`, `M`
//! and `G` are powers of 1000.

/// What a quantity measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Seconds.
    Time,
    /// Bits per second (a link's capacity).
    Bandwidth,
    /// Bytes per second (a source's rate).
    Rate,
}

impl Quantity {
    /// What it is, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Quantity::Time => "time",
            Quantity::Bandwidth => "bandwidth",
            Quantity::Rate => "rate",
        }
    }
}

/// The value of `v` in seconds, bits per second or bytes per second; the error is the
/// help to show.
pub fn parse(v: &toml::Value, q: Quantity) -> Result<f64, String> {
    let help = match q {
        Quantity::Time => "a number of seconds, or a string with a unit: \"500us\", \"10ms\", \"2s\"",
        Quantity::Bandwidth => "a string with a unit in bits per second: \"64kb/s\", \"10Mb/s\", \"1Gb/s\"",
        Quantity::Rate => "a string with a unit in bytes per second: \"500B/s\", \"176.4kB/s\", \"1.1MB/s\"",
    };
    let x = match (v, q) {
        (toml::Value::Integer(i), Quantity::Time) => *i as f64,
        (toml::Value::Float(f), Quantity::Time) => *f,
        (toml::Value::String(s), _) => parse_str(s.trim(), q).ok_or(help)?,
        _ => return Err(help.into()),
    };
    if x.is_finite() && x >= 0.0 { Ok(x) } else { Err(format!("a quantity is finite and not negative: {help}")) }
}

fn parse_str(s: &str, q: Quantity) -> Option<f64> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+'))?;
    let (num, unit) = s.split_at(end);
    let x: f64 = num.parse().ok()?;
    let unit = unit.trim();
    let scale = match q {
        Quantity::Time => match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "min" => 60.0,
            _ => return None,
        },
        Quantity::Bandwidth | Quantity::Rate => {
            let (mult, base) = match unit.strip_suffix("/s")? {
                u if u.len() == 2 => (&u[..1], &u[1..]),
                u => ("", u),
            };
            let m = match mult {
                "" => 1.0,
                "k" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                _ => return None,
            };
            match (base, q) {
                ("b", Quantity::Bandwidth) | ("B", Quantity::Rate) => m,
                ("B", Quantity::Bandwidth) => m * 8.0,
                ("b", Quantity::Rate) => m / 8.0,
                _ => return None,
            }
        }
    };
    Some(x * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> toml::Value {
        toml::Value::String(x.into())
    }

    #[test]
    fn times() {
        assert_eq!(parse(&toml::Value::Integer(2), Quantity::Time), Ok(2.0));
        assert_eq!(parse(&toml::Value::Float(0.5), Quantity::Time), Ok(0.5));
        assert_eq!(parse(&s("10ms"), Quantity::Time), Ok(0.01));
        assert_eq!(parse(&s("250 us"), Quantity::Time), Ok(0.00025));
        assert_eq!(parse(&s("2min"), Quantity::Time), Ok(120.0));
        assert!(parse(&s("10 parsecs"), Quantity::Time).is_err());
        assert!(parse(&toml::Value::Integer(-1), Quantity::Time).is_err());
    }

    #[test]
    fn bits_and_bytes() {
        assert_eq!(parse(&s("10Mb/s"), Quantity::Bandwidth), Ok(10e6));
        assert_eq!(parse(&s("1.25MB/s"), Quantity::Bandwidth), Ok(10e6));
        assert_eq!(parse(&s("176.4kB/s"), Quantity::Rate), Ok(176_400.0));
        assert_eq!(parse(&s("8kb/s"), Quantity::Rate), Ok(1000.0));
        assert_eq!(parse(&s("100b/s"), Quantity::Bandwidth), Ok(100.0));
        assert!(parse(&toml::Value::Integer(1000), Quantity::Rate).is_err(), "a bare number is ambiguous");
        assert!(parse(&s("10Xb/s"), Quantity::Bandwidth).is_err());
        assert!(parse(&s("10Mb"), Quantity::Bandwidth).is_err());
    }
}
