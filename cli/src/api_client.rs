//! The node API client for operator commands: finds the node from `--data-dir` or
//! `--api`/`--token-file`, and turns the API's JSON errors into one-line messages.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use fednode::api::error::ErrorBody;
use serde::Deserialize;
use serde_json::Value;

use crate::report::Refused;

/// Where the node's API is and how to authenticate.
pub struct ApiClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// The API address file and token file a running node writes in its data directory.
const API_ADDR_FILE: &str = "api.addr";
const TOKEN_FILE: &str = "api.token";

/// How long one request and its answer may take: a node that does not answer in this time
/// is stuck, and the operator is better told so than left waiting.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take when there is no overall limit (the live feed), so that a
/// node that is not there is still reported promptly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl ApiClient {
    /// Resolves the API from `--api` (with `--token-file`) first, then `--data-dir`.
    ///
    /// `timeout` bounds each request and its answer; `None` lets an answer last as long
    /// as the node keeps it open, for the live feed, which never ends on its own.
    pub fn resolve(
        data_dir: Option<&Path>,
        api: Option<&str>,
        token_file: Option<&Path>,
        timeout: Option<Duration>,
    ) -> anyhow::Result<ApiClient> {
        let (base, token_path): (String, PathBuf) = match (api, data_dir) {
            (Some(url), _) => {
                let Some(file) = token_file
                    .map(Path::to_path_buf)
                    .or_else(|| data_dir.map(|d| d.join(TOKEN_FILE)))
                else {
                    anyhow::bail!("--api needs --token-file FILE (the node's api.token)");
                };
                (url.trim_end_matches('/').to_string(), file)
            }
            (None, Some(dir)) => {
                let addr_file = dir.join(API_ADDR_FILE);
                let url = std::fs::read_to_string(&addr_file).with_context(|| {
                    format!(
                        "cannot read {}; is fednode running with --data-dir {}?",
                        addr_file.display(),
                        dir.display()
                    )
                })?;
                (url.trim().to_string(), dir.join(TOKEN_FILE))
            }
            (None, None) => anyhow::bail!(
                "this command talks to a running fednode: give --data-dir DIR, or --api URL --token-file FILE"
            ),
        };
        let token = std::fs::read_to_string(&token_path)
            .with_context(|| format!("cannot read the API token {}", token_path.display()))?
            .trim()
            .to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(timeout)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build()
            .into();
        Ok(ApiClient { base, token, agent })
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.answer(response)
    }

    /// `POST path` with a raw JSON body.
    pub fn post(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(body);
        self.answer(response)
    }

    /// `PUT path` with a raw JSON body.
    pub fn put(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .put(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(body);
        self.answer(response)
    }

    /// `PATCH path` with a raw JSON body.
    pub fn patch(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .patch(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(body);
        self.answer(response)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .delete(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.answer(response)
    }

    /// `GET path` of a body that arrives bit by bit (server-sent events): its lines as they
    /// come. An error answer is reported as for the other calls.
    pub fn stream(&self, path: &str) -> anyhow::Result<impl BufRead> {
        let response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Accept", "text/event-stream")
            .call();
        let mut response = self.reached(response)?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.body_mut().read_json().with_context(|| {
                format!("fednode at {} answered {status} without JSON", self.base)
            })?;
            return Err(self.failure(status, &body));
        }
        Ok(std::io::BufReader::new(response.into_body().into_reader()))
    }

    fn reached(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<ureq::http::Response<ureq::Body>> {
        response.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach fednode at {}: {e}; is it running? (see --data-dir / --api)",
                self.base
            )
        })
    }

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Value> {
        let mut response = self.reached(response)?;
        let status = response.status();
        let body: Value = response
            .body_mut()
            .read_json()
            .with_context(|| format!("fednode at {} answered {status} without JSON", self.base))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.failure(status, &body))
    }

    /// The error for an answer that is not a success: a refusal (exit 1) for what the
    /// node declines to do, an error (exit 2) for a bad token, an unknown path or a fault.
    fn failure(&self, status: ureq::http::StatusCode, body: &Value) -> anyhow::Error {
        let (code, message) = match ErrorBody::deserialize(body) {
            Ok(ErrorBody { error }) => (error.code, error.message),
            Err(e) => (
                "error".to_string(),
                format!("an error body that does not read: {e}"),
            ),
        };
        if status.is_client_error() && status.as_u16() != 401 && status.as_u16() != 404 {
            return Refused {
                message: format!("fednode refused: {message}"),
                detail: serde_json::json!({"code": code, "status": status.as_u16()}),
            }
            .into();
        }
        anyhow::anyhow!("fednode answered {status} ({code}): {message}")
    }
}

/// `value` made safe as one segment of a URL path: ids typed by an operator cannot reach
/// another route by containing `/` or `?`. The node decodes it back.
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn segments_keep_ids_and_escape_the_rest() {
        assert_eq!(
            segment(" project:0123abcd "),
            "project:0123abcd",
            "ids pass unchanged"
        );
        assert_eq!(segment("a/b?c=d"), "a%2Fb%3Fc%3Dd");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
