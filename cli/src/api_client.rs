//! The node API client for operator commands: finds the node from `--data-dir` or
//! `--api`/`--token-file`, and turns the API's JSON errors into one-line messages.

use std::path::{Path, PathBuf};

use anyhow::Context;
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

impl ApiClient {
    /// Resolves the API from `--api` (with `--token-file`) first, then `--data-dir`.
    pub fn resolve(
        data_dir: Option<&Path>,
        api: Option<&str>,
        token_file: Option<&Path>,
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
            .timeout_global(Some(std::time::Duration::from_secs(30)))
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

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Value> {
        let mut response = response.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach fednode at {}: {e}; is it running? (see --data-dir / --api)",
                self.base
            )
        })?;
        let status = response.status();
        let body: Value = response
            .body_mut()
            .read_json()
            .with_context(|| format!("fednode at {} answered {status} without JSON", self.base))?;
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("error")
            .to_string();
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string();
        if status.is_client_error() && status.as_u16() != 401 && status.as_u16() != 404 {
            return Err(Refused {
                message: format!("fednode refused: {message}"),
                detail: serde_json::json!({"code": code, "status": status.as_u16()}),
            }
            .into());
        }
        anyhow::bail!("fednode answered {status} ({code}): {message}")
    }
}
