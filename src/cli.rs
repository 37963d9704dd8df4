//! The command line: `serve`, and the administration commands that work on the database
//! directly (they can run beside a serving instance).

use std::io::Read;
use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, AppState};
use crate::auth::tokens::DEFAULT_EXPIRY_DAYS;
use crate::config::{DatabaseArgs, ServeArgs, Settings};
use crate::scim::error::ScimError;
use crate::service::tenants as svc;
use crate::service::{admins, api_keys, now_millis, Service};

/// scimd — a SCIM 2.0 provisioning server for Microsoft Entra ID.
#[derive(Debug, Parser)]
#[command(name = "scimd", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the SCIM API and the token page (migrates the database first).
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage admins of the token page.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage a tenant's custom extension fields.
    #[command(subcommand)]
    Field(FieldCommand),
    /// Manage the host app's keys for the management API (`/api/v1`).
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage a tenant's OAuth 2.0 clients (for identity providers that authenticate with a
    /// client ID and secret instead of a Secret Token).
    #[command(subcommand)]
    OauthClient(OAuthClientCommand),
    /// Remove tombstones of deleted users and groups older than a retention period.
    Purge {
        /// Keep tombstones younger than this: a number and d, h, m or s (`30d`, `12h`).
        #[arg(long, default_value = "30d")]
        older_than: String,
    },
    /// Print a tenant's provisioning log.
    Events {
        /// The tenant's slug.
        slug: String,
        /// Only events after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Keep printing new events as they come.
        #[arg(long)]
        tail: bool,
    },
}

/// `scimd tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its SCIM base URL (the Tenant URL for Entra).
    Create {
        /// Its name in URLs: lower-case letters, digits and hyphens (e.g. `acme`).
        slug: String,
        /// A display name for the token page (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants with their URLs (and whether they are disabled).
    List,
    /// Disable a tenant: its SCIM endpoint answers 403 (within a second on running
    /// instances); its data, tokens and fields stay.
    Disable {
        /// The tenant's slug.
        slug: String,
    },
    /// Enable a disabled tenant again.
    Enable {
        /// The tenant's slug.
        slug: String,
    },
}

/// `scimd token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a bearer token; it is printed alone on the last line.
    Issue {
        /// The tenant's slug.
        slug: String,
        /// Days until it expires (1 to 365).
        #[arg(long, default_value_t = DEFAULT_EXPIRY_DAYS)]
        days: i64,
        /// A note shown beside the token in lists (e.g. `entra`).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a tenant's tokens: id, label, expiry and last use.
    List {
        /// The tenant's slug.
        slug: String,
    },
    /// Revoke a token by id: refused at once here, within a second by running instances.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

/// `scimd admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin of a tenant's token page (or an operator with --operator).
    Create {
        /// Tenant slug (omit with --operator).
        slug: Option<String>,
        /// The admin's login name.
        username: Option<String>,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// An operator sees every tenant.
        #[arg(long)]
        operator: bool,
    },
}

/// `scimd apikey …`
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key; it is printed alone on the last line, once (only its hash is kept).
    Create {
        /// The one tenant the key may manage (default: every tenant, as the operator).
        #[arg(long)]
        tenant: Option<String>,
        /// What uses the key (e.g. `billing app`), shown in lists.
        #[arg(long)]
        label: String,
    },
    /// List keys: id, tenant, label, creation, last use, revocation.
    List,
    /// Revoke a key by id: refused on the next request, on every instance.
    Revoke {
        /// The key's id, as `apikey list` shows it.
        id: String,
    },
}

/// `scimd oauth-client …`
#[derive(Debug, Subcommand)]
pub enum OAuthClientCommand {
    /// Make a client: prints its client ID, the token endpoint, and its secret (once).
    Create {
        /// The tenant's slug.
        slug: String,
        /// What uses the client (e.g. `Entra production`), shown in lists.
        #[arg(long, default_value = "OAuth client")]
        label: String,
        /// A redirect URI for the authorization-code grant (repeat for several).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A file holding the JSON Web Key Set of the client's public keys (private_key_jwt).
        #[arg(long)]
        jwks_file: Option<std::path::PathBuf>,
    },
    /// List a tenant's clients: id, client ID, label, creation, live secrets, state.
    List {
        /// The tenant's slug.
        slug: String,
    },
    /// Revoke a client by id: its secrets, grants and access tokens stop working (within a
    /// second on running instances).
    Revoke {
        /// The tenant's slug.
        slug: String,
        /// The client's id, as `oauth-client list` shows it.
        id: String,
    },
}

/// `scimd field …`
#[derive(Debug, Subcommand)]
pub enum FieldCommand {
    /// Define a field of urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User.
    Add {
        /// The tenant's slug.
        slug: String,
        /// The attribute's name in the extension schema (e.g. `costCenter`).
        name: String,
        /// string, boolean, integer, decimal, dateTime or reference.
        #[arg(long = "type", default_value = "string")]
        field_type: String,
        /// The attribute holds a list of values.
        #[arg(long)]
        multi_valued: bool,
    },
    /// List a tenant's fields with the attribute to map in Entra (a running scimd sees a
    /// new field within a second).
    List {
        /// The tenant's slug.
        slug: String,
    },
}

/// Run the CLI; errors go to stderr with a non-zero exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Log to stderr; `SCIMD_LOG_FORMAT=json` for JSON lines, `RUST_LOG` to filter.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colour codes only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let json = std::env::var("SCIMD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Already initialised (tests start several servers): keep the first.
    let _ = result;
}

fn scim(e: ScimError) -> String {
    e.detail
}

fn parse_age(s: &str) -> Result<i64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid age {s:?}: use e.g. 30d or 12h"))?;
    let ms = match unit {
        "d" | "" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1_000,
        _ => return Err(format!("invalid age unit in {s:?}: use d, h, m or s")),
    };
    Ok(n * ms)
}

fn run(cli: Cli) -> Result<(), String> {
    let command = match cli.command {
        Command::Serve(serve_args) => return serve(Settings::from_args(cli.database, serve_args)),
        other => other,
    };
    let settings = Settings::from_args(cli.database, ServeArgs::from_env()?);
    let service = Service::open(&settings)?;
    // The commands run the service's async use cases, each owning its transaction.
    actix_web::rt::System::new().block_on(self::command(command, &settings, &service))
}

async fn oauth_client(
    command: OAuthClientCommand,
    settings: &Settings,
    service: &Service,
) -> Result<(), String> {
    use crate::service::oauth;
    let ts = crate::scim::render::timestamp;
    match command {
        OAuthClientCommand::Create {
            slug,
            label,
            redirect_uris,
            jwks_file,
        } => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            let jwks = match jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    Some(
                        serde_json::from_str(&text)
                            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?,
                    )
                }
                None => None,
            };
            let new = oauth::NewClient {
                label,
                redirect_uris,
                jwks,
            };
            let (secret, client) = oauth::create_client(service, &tenant, new)
                .await
                .map_err(scim)?;
            println!("Tenant URL:     {}", settings.tenant_url(&slug));
            println!("Token endpoint: {}", settings.oauth_token_url());
            println!("Client id:      {}", client.row.client_id);
            println!("Id (to revoke): {}", client.row.id);
            println!("Client secret (shown once):");
            println!("{secret}");
            Ok(())
        }
        OAuthClientCommand::List { slug } => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            println!("id\tclient id\tlabel\tcreated\tsecrets\tstatus");
            for c in oauth::list_clients(service, &tenant).await.map_err(scim)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.row.id,
                    c.row.client_id,
                    c.row.label,
                    ts(c.row.created_at),
                    c.secrets.len(),
                    c.row
                        .revoked_at
                        .map_or("active".to_string(), |at| format!("revoked {}", ts(at)))
                );
            }
            Ok(())
        }
        OAuthClientCommand::Revoke { slug, id } => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            oauth::revoke_client(service, &tenant, &id)
                .await
                .map_err(scim)?;
            println!("revoked OAuth client {id}");
            Ok(())
        }
    }
}

async fn command(command: Command, settings: &Settings, service: &Service) -> Result<(), String> {
    match command {
        Command::Serve(_) => Ok(()),
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let tenant = svc::create_tenant(service, &slug, name.as_deref())
                .await
                .map_err(scim)?;
            println!("{}", settings.tenant_url(&tenant.slug));
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            for t in svc::list_tenants(service).await.map_err(scim)? {
                let state = t.disabled_at.map_or(String::new(), |at| {
                    format!("\tdisabled {}", crate::scim::render::timestamp(at))
                });
                println!(
                    "{}\t{}\t{}{state}",
                    t.slug,
                    t.name,
                    settings.tenant_url(&t.slug)
                );
            }
            Ok(())
        }
        Command::Tenant(TenantCommand::Disable { slug }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            svc::set_tenant_disabled(service, &tenant, true)
                .await
                .map_err(scim)?;
            println!("disabled {slug}: its SCIM endpoint answers 403 within a second");
            Ok(())
        }
        Command::Tenant(TenantCommand::Enable { slug }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            svc::set_tenant_disabled(service, &tenant, false)
                .await
                .map_err(scim)?;
            println!("enabled {slug}");
            Ok(())
        }
        Command::Token(TokenCommand::Issue { slug, days, label }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            let (jwt, record) = svc::issue_token(service, &tenant, days, &label)
                .await
                .map_err(scim)?;
            println!("Tenant URL: {}", settings.tenant_url(&slug));
            println!("Token id:   {}", record.jti);
            println!(
                "Expires:    {}",
                crate::scim::render::timestamp(record.expires_at)
            );
            println!("Secret Token (shown once):");
            println!("{jwt}");
            Ok(())
        }
        Command::Token(TokenCommand::List { slug }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            let list = svc::list_tokens(service, &tenant).await.map_err(scim)?;
            println!("id\tlabel\tcreated\texpires\tlast used\tstatus");
            let now = now_millis();
            for t in list {
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at <= now {
                    "expired"
                } else {
                    "valid"
                };
                let ts = crate::scim::render::timestamp;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{status}",
                    t.jti,
                    t.label,
                    ts(t.created_at),
                    ts(t.expires_at),
                    t.last_used_at.map(ts).unwrap_or_else(|| "never".into())
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            svc::revoke_token(service, &id, None).await.map_err(scim)?;
            println!("revoked {id}");
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            slug,
            username,
            password_stdin: _,
            operator,
        }) => {
            let (slug, username) = match (operator, slug, username) {
                (true, Some(u), None) => (None, u),
                (_, Some(s), Some(u)) => (Some(s), u),
                _ => return Err("usage: scimd admin create SLUG USERNAME --password-stdin (or --operator USERNAME)".into()),
            };
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            admins::create_admin(service, slug.as_deref(), &username, password, operator)
                .await
                .map_err(scim)?;
            println!(
                "admin {username} created; log in at {}/admin",
                settings.public_url()
            );
            Ok(())
        }
        Command::Field(FieldCommand::Add {
            slug,
            name,
            field_type,
            multi_valued,
        }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            let field = svc::add_custom_field(service, &tenant, &name, &field_type, multi_valued)
                .await
                .map_err(scim)?;
            println!("{}:{}", crate::scim::schema::CUSTOM_USER_SCHEMA, field.name);
            Ok(())
        }
        Command::Field(FieldCommand::List { slug }) => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            for f in svc::list_custom_fields(service, &tenant)
                .await
                .map_err(scim)?
            {
                println!(
                    "{}\t{}\t{}\t{}:{}",
                    f.name,
                    f.field_type.as_str(),
                    if f.multi_valued { "multi" } else { "single" },
                    crate::scim::schema::CUSTOM_USER_SCHEMA,
                    f.name
                );
            }
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::Create { tenant, label }) => {
            let (key, made) = api_keys::create_api_key(service, tenant.as_deref(), &label)
                .await
                .map_err(scim)?;
            let scope = made.tenant_slug.as_deref().unwrap_or("every tenant");
            println!(
                "API key {} for {scope}; shown once, keep it secret:",
                made.row.id
            );
            println!("{key}");
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::List) => {
            let when = |at: Option<i64>| at.map_or("-".to_string(), crate::scim::render::timestamp);
            for k in api_keys::list_api_keys(service).await.map_err(scim)? {
                println!(
                    "{}\t{}\t{}\tcreated {}\tlast used {}\t{}",
                    k.row.id,
                    k.tenant_slug.as_deref().unwrap_or("(operator)"),
                    k.row.label,
                    crate::scim::render::timestamp(k.row.created_at),
                    when(k.row.last_used_at),
                    k.row.revoked_at.map_or("active".to_string(), |at| format!(
                        "revoked {}",
                        crate::scim::render::timestamp(at)
                    )),
                );
            }
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::Revoke { id }) => {
            api_keys::revoke_api_key(service, &id).await.map_err(scim)?;
            println!("revoked API key {id}");
            Ok(())
        }
        Command::OauthClient(c) => oauth_client(c, settings, service).await,
        Command::Purge { older_than } => {
            let before = now_millis() - parse_age(&older_than)?;
            let (u, g) = svc::purge_tombstones(service, before).await.map_err(scim)?;
            println!(
                "purged {u} users and {g} groups deleted before {}",
                crate::scim::render::timestamp(before)
            );
            Ok(())
        }
        Command::Events { slug, after, tail } => {
            let tenant = svc::tenant_by_slug(service, &slug).await.map_err(scim)?;
            let mut last = after;
            loop {
                let batch = svc::events_after(service, &tenant, last, 1000)
                    .await
                    .map_err(scim)?;
                for e in &batch {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        e.id,
                        crate::scim::render::timestamp(e.at),
                        e.action,
                        e.resource_type,
                        e.resource_id.as_deref().unwrap_or("-"),
                        e.detail
                    );
                    last = e.id;
                }
                if !tail && batch.len() < 1000 {
                    return Ok(());
                }
                if batch.is_empty() {
                    actix_web::rt::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    let state = AppState::open(settings.clone())?;
    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    // One runtime for the start-up read and the server.
    actix_web::rt::System::new().block_on(async move {
        let tenant_count = svc::count_tenants(&state.service).await.map_err(scim)?;
        let backend = state.service.store.backend();
        tracing::info!(bind = %settings.bind, backend, "scimd serving");
        let scheme = if settings.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!(
            "scimd listening on {scheme}://{} ({} database)",
            settings.bind, backend
        );
        if tenant_count == 0 {
            // The program as it was invoked (`./target/release/scimd`, `scimd`), so the steps
            // work as printed.
            let me = std::env::args()
                .next()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "scimd".into());
            eprintln!(
                "No tenant yet. Next steps:\n  {me} tenant create acme          # prints the Tenant URL\n  {me} token issue acme --days 90  # prints the Secret Token\nthen paste both into the Entra app's Provisioning blade and press Test Connection."
            );
        }
        // Beside the server, on its runtime: the webhook sender (every instance runs one).
        crate::webhooks::start_sender(
            state.service.clone(),
            settings.webhook_first_retry_ms,
            settings.webhook_allow_private,
        );
        // And the connection health monitor (counters flushed, state changes told).
        crate::service::connection::start_monitor(state.service.clone());
        // And the worker that re-evaluates effective roles after changes (service::roles).
        let urls = settings.clone();
        crate::service::roles::start_worker(
            state.service.clone(),
            std::sync::Arc::new(move |slug: &str| urls.tenant_url(slug)),
        );
        let server = app::run(listener, state).map_err(|e| e.to_string())?;
        server.await.map_err(|e| e.to_string())
    })
}
