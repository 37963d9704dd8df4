//! A tiny browser for the token page: keeps cookies, follows no redirect (they are
//! asserted), sends forms, and returns status, location and body.

use std::collections::BTreeMap;
use std::time::Duration;

/// A client of one scimd's pages with a cookie jar of its own.
pub struct CookieClient {
    base: String,
    client: awc::Client,
    headers: Vec<(String, String)>,
    cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` header received, as sent.
    pub set_cookie_headers: Vec<String>,
}

/// A page as the server answered it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden CSRF field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("page has a csrf field") + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .expect("csrf")
            .to_string()
    }

    /// Text of the element with this id (no nested tags).
    pub fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let at = self.body.find(&marker)?;
        let rest = &self.body[at..];
        let open_end = rest.find('>')? + 1;
        let close = rest[open_end..].find('<')?;
        Some(rest[open_end..open_end + close].trim().to_string())
    }
}

impl CookieClient {
    /// A client of the server at `base` (`http://127.0.0.1:port`), with no cookies yet.
    pub fn new(base: &str) -> CookieClient {
        CookieClient {
            base: base.to_string(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(30))
                .finish(),
            headers: Vec::new(),
            cookies: BTreeMap::new(),
            set_cookie_headers: Vec::new(),
        }
    }

    /// Send this header with every request (e.g. `X-Forwarded-For` behind a proxy).
    pub fn with_header(mut self, name: &str, value: &str) -> CookieClient {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The cookies held now: name → value.
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }

    /// A GET, or a POST of `form`; `path` is relative to the base URL.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let url = format!("{}{path}", self.base);
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, url);
        for (name, value) in &self.headers {
            req = req.insert_header((name.as_str(), value.as_str()));
        }
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req = req.insert_header(("Cookie", cookie));
        }
        let mut resp = match form {
            Some(f) => req
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .send_body(serde_urlencoded::to_string(f).expect("form"))
                .await
                .expect("request"),
            None => req.send().await.expect("request"),
        };
        for v in resp.headers().get_all("set-cookie") {
            let raw = v.to_str().expect("cookie").to_string();
            if let Some((k, val)) = raw.split(';').next().and_then(|p| p.split_once('=')) {
                if val.is_empty() || raw.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), val.to_string());
                }
            }
            self.set_cookie_headers.push(raw);
        }
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("location").to_string());
        let body = resp.body().limit(4 << 20).await.expect("body");
        Page {
            status: resp.status().as_u16(),
            location,
            body: String::from_utf8_lossy(&body).to_string(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request("POST", path, Some(form)).await
    }

    /// GET the login form for its CSRF pair, then POST it with these credentials.
    pub async fn login(&mut self, user: &str, password: &str) -> Page {
        let csrf = self.get("/admin").await.csrf();
        self.post(
            "/admin/login",
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await
    }
}
