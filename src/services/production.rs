//! Reading production settings (api.md § Production mode): every problem is collected, so the
//! service refuses to start once, naming them all.

use super::Secret;
use std::path::Path;

/// Where settings come from: the environment in the binary, a map in tests.
pub type Source<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The problems found so far; each names its setting.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    /// A required, non-empty setting.
    pub fn required(&mut self, get: Source<'_>, name: &str) -> Option<String> {
        match get(name).map(|v| v.trim().to_string()) {
            Some(value) if !value.is_empty() => Some(value),
            _ => {
                self.0.push(format!("{name} is not set"));
                None
            }
        }
    }

    /// A setting naming a file that holds a secret; the secret is read now.
    pub fn secret_file(&mut self, get: Source<'_>, name: &str) -> Option<Secret> {
        let path = self.required(get, name)?;
        Secret::from_file(Path::new(&path))
            .map_err(|why| self.0.push(format!("{name}: {why}")))
            .ok()
    }

    /// A base URL: `https://…`, or plain `http://` to a loopback host (a local stand-in).
    /// Returned without a trailing slash.
    pub fn base_url(&mut self, name: &str, value: &str) -> Option<String> {
        match check_base_url(value) {
            Ok(url) => Some(url),
            Err(why) => {
                self.0.push(format!("{name}: {why}"));
                None
            }
        }
    }

    /// Records a problem.
    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }
}

/// `https://host[:port][/path]`, or `http://` to 127.0.0.1, ::1 or localhost.
pub fn check_base_url(value: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("plain http is accepted only for a loopback host".into()),
        other => return Err(format!("unsupported scheme {other}")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a base URL takes no query or fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_a_base_url() {
        assert_eq!(
            check_base_url("https://api.mch.weixin.qq.com/").unwrap(),
            "https://api.mch.weixin.qq.com"
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:9000").unwrap(),
            "http://127.0.0.1:9000"
        );
        assert!(check_base_url("http://api.mch.weixin.qq.com").is_err());
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("not a url").is_err());
    }

    #[test]
    fn every_missing_setting_is_named() {
        let get = |_: &str| None;
        let mut problems = Problems::default();
        assert!(problems.required(&get, "A").is_none());
        assert!(problems.secret_file(&get, "B_FILE").is_none());
        assert_eq!(problems.0, ["A is not set", "B_FILE is not set"]);
    }
}
