//! Settings from flags and environment, with defaults. Every command takes the database
//! flags ([`DatabaseArgs`]); only `serve` takes the server's ([`ServeArgs`]), so the other
//! commands' `--help` lists only what they use.

use clap::Args;

/// A failed webhook delivery's first retry, in milliseconds, unless
/// `--webhook-first-retry-ms` says otherwise (the later ones are multiples of it).
pub const DEFAULT_FIRST_RETRY_MS: u64 = 5_000;

/// What scimd stores into and how it names itself: every command's flags.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://scimd.db` (default, embedded) or `postgres://…` (add
    /// `?sslmode=require` for TLS). `DATABASE_URL` is read too.
    #[arg(long, env = "SCIMD_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// The URL clients reach scimd at (scheme, host, port; no trailing slash), used in Tenant
    /// URLs and `meta.location`. Defaults to `http://{bind}`.
    #[arg(long, env = "SCIMD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}

/// How `scimd serve` listens and what it allows.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIMD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Database connections per instance.
    #[arg(long, env = "SCIMD_DB_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SCIMD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest page a list request returns.
    #[arg(long, env = "SCIMD_MAX_RESULTS", default_value_t = 1000)]
    pub max_results: i64,
    /// Most bytes of rendered resources one page of a list holds: a page of large users ends
    /// early (SCIM: fewer results, `itemsPerPage` says how many; /api/v1: a shorter page with
    /// its `nextCursor`). A page always holds at least one resource.
    #[arg(long, env = "SCIMD_MAX_PAGE_BYTES", default_value_t = crate::service::paging::DEFAULT_MAX_PAGE_BYTES)]
    pub max_page_bytes: usize,
    /// Failed authentications (bad or missing tokens) per second allowed from one client
    /// address before it gets 429 (0: no limit). Authenticated requests never count here.
    #[arg(long, env = "SCIMD_RATE_LIMIT_ADDRESS", default_value_t = 50)]
    pub rate_limit_address: u32,
    /// Requests per second allowed to one tenant (0: no limit).
    #[arg(long, env = "SCIMD_RATE_LIMIT_TENANT", default_value_t = 1000)]
    pub rate_limit_tenant: u32,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key). Entra requires an
    /// HTTPS Tenant URL; without these, put scimd behind a TLS-terminating proxy.
    #[arg(long, env = "SCIMD_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "SCIMD_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Filters and sorts on attributes without an index run in memory, and so do costly
    /// PATCHes: how many at once (default: half the cores, at least one). Others wait their
    /// turn; a tenant may hold two turns at once.
    #[arg(long, env = "SCIMD_SCAN_THREADS")]
    pub scan_threads: Option<usize>,
    /// Longest time, in milliseconds, one in-memory filter or sort may take; past it the
    /// request gets 400 tooMany with a detail saying how to narrow the filter.
    #[arg(long, env = "SCIMD_SCAN_BUDGET_MS", default_value_t = 2000)]
    pub scan_budget_ms: u64,
    /// Reverse proxies (CIDR, repeatable or comma-separated) whose `X-Forwarded-For` names
    /// the client. From any other peer the header is ignored: the peer is the client.
    #[arg(
        long = "trusted-proxy",
        env = "SCIMD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer token that `/metrics` requires (`Authorization: Bearer …`). Without it,
    /// `/metrics` is served only on `--metrics-bind`.
    #[arg(long, env = "SCIMD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A separate address for `/metrics`, an IP address and port (e.g. 127.0.0.1:9090,
    /// reached by Prometheus and not by the proxy), where it needs no token; checked at start.
    #[arg(long, env = "SCIMD_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// HTTP worker threads (default: one per core on SQLite, two per core on PostgreSQL).
    #[arg(long, env = "SCIMD_WORKERS")]
    pub workers: Option<usize>,
    /// Milliseconds before a failed webhook delivery's first retry; later retries wait 6,
    /// 24, 120 … 7,200 times as long (at the default 5,000: 30 s, 2 min, 10 min … 10 h, about
    /// 26 h in all), and an endpoint that fails for the whole schedule is disabled.
    #[arg(long, env = "SCIMD_WEBHOOK_FIRST_RETRY_MS", default_value_t = DEFAULT_FIRST_RETRY_MS)]
    pub webhook_first_retry_ms: u64,
    /// Let operator API keys register webhook receivers on private networks (loopback,
    /// 10.x, 192.168.x, fd00::/8 …). Off by default: receivers must be public, and tenant
    /// keys never may.
    #[arg(long, env = "SCIMD_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub webhook_allow_private: bool,
    /// Authenticated `/api/v1` requests per second per API key, and per tenant (all keys
    /// acting on it); bursts of two seconds' worth pass. 0 turns the limit off.
    #[arg(long, env = "SCIMD_API_RATE_LIMIT", default_value_t = 50)]
    pub api_rate_limit: u32,
    /// Lifetime of an OAuth 2.0 access token from `/oauth/token`, in seconds (60 to 86400).
    #[arg(long, env = "SCIMD_OAUTH_TOKEN_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(60..=86400))]
    pub oauth_token_seconds: i64,
}

/// Everything a command runs with: [`DatabaseArgs`] and [`ServeArgs`] in one place.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub pool_size: u32,
    pub max_body_bytes: usize,
    pub max_results: i64,
    pub max_page_bytes: usize,
    pub rate_limit_address: u32,
    pub rate_limit_tenant: u32,
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    pub scan_threads: Option<usize>,
    pub scan_budget_ms: u64,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub metrics_token: Option<String>,
    pub metrics_bind: Option<std::net::SocketAddr>,
    pub workers: Option<usize>,
    pub webhook_first_retry_ms: u64,
    pub webhook_allow_private: bool,
    pub api_rate_limit: u32,
    pub oauth_token_seconds: i64,
    /// Connection health (see `service::connection`): how long without a SCIM request a
    /// tenant with a valid credential is `silent`, in milliseconds. Not a flag: the default
    /// ([`crate::service::connection::SILENCE_AFTER_MILLIS`], two of Entra's cycles) is the
    /// rule; tests shorten it.
    pub connection_silence_ms: i64,
    /// How often an instance looks for connection state changes and expiring credentials
    /// to tell the host app, in milliseconds (tests shorten it).
    pub connection_check_ms: u64,
    /// How often an instance adds its counters of SCIM requests to the database, in
    /// milliseconds (tests shorten it).
    pub connection_flush_ms: u64,
}

impl ServeArgs {
    /// The server's settings from the environment alone (`SCIMD_BIND`, `SCIMD_TLS_CERT`…):
    /// the other commands print Tenant URLs as the server would make them.
    pub fn from_env() -> Result<ServeArgs, String> {
        #[derive(clap::Parser)]
        struct EnvOnly {
            #[command(flatten)]
            serve: ServeArgs,
        }
        <EnvOnly as clap::Parser>::try_parse_from(["scimd"])
            .map(|e| e.serve)
            .map_err(|e| e.to_string())
    }
}

impl Settings {
    /// The settings of a command from its flags (and environment).
    pub fn from_args(database: DatabaseArgs, serve: ServeArgs) -> Settings {
        Settings {
            bind: serve.bind,
            database_url: database.database_url,
            public_url: database.public_url,
            pool_size: serve.pool_size,
            max_body_bytes: serve.max_body_bytes,
            max_results: serve.max_results,
            max_page_bytes: serve.max_page_bytes,
            rate_limit_address: serve.rate_limit_address,
            rate_limit_tenant: serve.rate_limit_tenant,
            tls_cert: serve.tls_cert,
            tls_key: serve.tls_key,
            scan_threads: serve.scan_threads,
            scan_budget_ms: serve.scan_budget_ms,
            trusted_proxies: serve.trusted_proxies,
            metrics_token: serve.metrics_token,
            metrics_bind: serve.metrics_bind,
            workers: serve.workers,
            webhook_first_retry_ms: serve.webhook_first_retry_ms,
            webhook_allow_private: serve.webhook_allow_private,
            api_rate_limit: serve.api_rate_limit,
            oauth_token_seconds: serve.oauth_token_seconds,
            ..Settings::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            public_url: None,
            pool_size: 16,
            max_body_bytes: 1024 * 1024,
            max_results: 1000,
            max_page_bytes: crate::service::paging::DEFAULT_MAX_PAGE_BYTES,
            rate_limit_address: 50,
            rate_limit_tenant: 1000,
            tls_cert: None,
            tls_key: None,
            scan_threads: None,
            scan_budget_ms: 2000,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_bind: None,
            workers: None,
            webhook_first_retry_ms: DEFAULT_FIRST_RETRY_MS,
            webhook_allow_private: false,
            api_rate_limit: 50,
            oauth_token_seconds: 3600,
            connection_silence_ms: crate::service::connection::SILENCE_AFTER_MILLIS,
            connection_check_ms: crate::service::connection::CHECK_EVERY_MILLIS,
            connection_flush_ms: crate::service::connection::FLUSH_EVERY_MILLIS,
        }
    }
}

impl Settings {
    /// The database URL in effect: the flag, `SCIMD_DATABASE_URL`, `DATABASE_URL`, or SQLite.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "sqlite://scimd.db".to_string())
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", self.bind));
        url.trim_end_matches('/').to_string()
    }

    /// A tenant's SCIM base URL (the Tenant URL an Entra admin pastes).
    pub fn tenant_url(&self, slug: &str) -> String {
        format!("{}/scim/v2/tenants/{slug}", self.public_url())
    }

    /// The address of a setup link with this secret (see `service::setup_links`).
    pub fn setup_link_url(&self, secret: &str) -> String {
        format!("{}/setup/{secret}", self.public_url())
    }

    /// The OAuth 2.0 authorization server's issuer identifier (RFC 8414): the public URL.
    pub fn oauth_issuer(&self) -> String {
        self.public_url()
    }

    /// The OAuth 2.0 token endpoint (RFC 6749 §3.2).
    pub fn oauth_token_url(&self) -> String {
        format!("{}/oauth/token", self.public_url())
    }

    /// The OAuth 2.0 authorization endpoint (RFC 6749 §3.1), for the authorization-code grant.
    pub fn oauth_authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.public_url())
    }
}
