//! The HTTP client for whatsapp-rust clients that talk to the sandbox. WhatsApp's URLs
//! are all `https://` (media hosts, app-state blobs); this client sends every such
//! request to the sandbox over plain HTTP instead, keeping path and query.

use async_trait::async_trait;
use wacore::net::{HttpClient, HttpRequest, HttpResponse};

#[derive(Debug, Clone)]
pub struct SandboxHttpClient {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    base: String,
}

impl SandboxHttpClient {
    /// `base` is the sandbox's [`crate::SandboxHandle::http_url`].
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_owned();
        Self { client: reqwest::Client::new(), base }
    }

    /// Where a request for `url` really goes.
    pub fn rewrite(&self, url: &str) -> anyhow::Result<String> {
        let parsed = reqwest::Url::parse(url)?;
        if parsed.scheme() != "https" {
            return Ok(url.to_owned());
        }
        let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
        Ok(format!("{}{}{}", self.base, parsed.path(), query))
    }
}

#[async_trait]
impl HttpClient for SandboxHttpClient {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        let url = self.rewrite(&request.url)?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body.to_vec());
        }
        // A 4xx/5xx is a completed exchange: the caller reads the status (see the trait).
        let response = builder.send().await?;
        let status_code = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok(HttpResponse { status_code, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_go_to_the_sandbox() {
        let client = SandboxHttpClient::new("http://127.0.0.1:4000/");
        assert_eq!(
            client.rewrite("https://mmg.whatsapp.net/v/t62/abc?auth=x&token=y").unwrap(),
            "http://127.0.0.1:4000/v/t62/abc?auth=x&token=y"
        );
        assert_eq!(client.rewrite("https://web.whatsapp.com/sw.js").unwrap(), "http://127.0.0.1:4000/sw.js");
        assert_eq!(client.rewrite("http://127.0.0.1:4000/x").unwrap(), "http://127.0.0.1:4000/x");
    }
}
