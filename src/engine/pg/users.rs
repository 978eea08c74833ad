//! User Secrets `<c>-pguser-<user>`: credentials and ready-made connection strings for each PostgreSQL user.

use k8s_openapi::api::core::v1::Secret;

use super::meta::{Context, L_PGUSER, L_ROLE};
use super::secrets::bytes;
use super::{BuildError, PgBuildInputs};
use crate::api::pg::{PerconaPGClusterSpec, PgUser};

/// `spec.users`, or (when absent or empty) one user with a database, both named after the cluster.
pub fn effective_users(spec: &PerconaPGClusterSpec, cluster: &str) -> Vec<PgUser> {
    match &spec.users {
        Some(users) if !users.is_empty() => users.clone(),
        _ => vec![PgUser { name: cluster.into(), databases: Some(vec![cluster.into()]), ..Default::default() }],
    }
}

pub fn secret_name(ctx: &Context, user: &PgUser) -> String {
    user.secret_name.clone().unwrap_or_else(|| ctx.object_name(&format!("pguser-{}", user.name)))
}

/// Whether the role is a superuser; pgBouncer does not serve those unless `exposeSuperusers`.
fn is_superuser(user: &PgUser) -> bool {
    let opts = user.options.as_deref().unwrap_or("").to_ascii_uppercase();
    user.name == "postgres" || opts.split_whitespace().any(|o| o == "SUPERUSER")
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for user info and query values.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn uris(user: &str, password: &str, host: &str, port: i32, db: Option<&str>) -> (String, String) {
    let path = db.map(|d| format!("/{}", encode(d))).unwrap_or_default();
    let uri = format!("postgresql://{}:{}@{host}:{port}{path}", encode(user), encode(password));
    let jdbc = format!(
        "jdbc:postgresql://{host}:{port}{}?password={}&user={}",
        if path.is_empty() { "/" } else { &path },
        encode(password),
        encode(user)
    );
    (uri, jdbc)
}

pub fn user_secrets(ctx: &Context, inputs: &PgBuildInputs) -> Result<Vec<Secret>, BuildError> {
    let mut out = Vec::new();
    for user in effective_users(&ctx.spec, &ctx.name) {
        let creds = inputs
            .users
            .get(&user.name)
            .ok_or_else(|| BuildError::MissingPassword { cluster: ctx.display_name(), user: user.name.clone() })?;
        let host = ctx.service_host(&ctx.object_name("primary"));
        let port = ctx.port();
        let db = user.databases.as_ref().and_then(|d| d.first()).map(String::as_str);
        let (uri, jdbc) = uris(&user.name, &creds.password, &host, port, db);
        let mut data: Vec<(&str, String)> = vec![
            ("user", user.name.clone()),
            ("password", creds.password.clone()),
            ("verifier", creds.verifier.clone()),
            ("host", host),
            ("port", port.to_string()),
            ("uri", uri),
            ("jdbc-uri", jdbc),
        ];
        if let Some(db) = db {
            data.push(("dbname", db.to_string()));
        }
        if let Some(b) = ctx.pgbouncer().filter(|b| !is_superuser(&user) || b.expose_superusers.unwrap_or(false)) {
            let b_host = ctx.service_host(&ctx.object_name("pgbouncer"));
            let b_port = b.port.unwrap_or(crate::api::pg::DEFAULT_PORT);
            let (b_uri, b_jdbc) = uris(&user.name, &creds.password, &b_host, b_port, db);
            data.push(("pgbouncer-host", b_host));
            data.push(("pgbouncer-port", b_port.to_string()));
            data.push(("pgbouncer-uri", b_uri));
            // pgBouncer in transaction mode cannot keep server-side prepared statements.
            data.push(("pgbouncer-jdbc-uri", format!("{b_jdbc}&prepareThreshold=0")));
        }
        let labels = ctx.crunchy_labels(&[(L_PGUSER, &user.name), (L_ROLE, "pguser")]);
        out.push(Secret {
            metadata: ctx.object_meta(secret_name(ctx, &user), labels),
            type_: Some("Opaque".into()),
            data: Some(bytes(data.iter().map(|(k, v)| (*k, v.as_str())).collect())),
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_encode_credentials() {
        let (uri, jdbc) = uris("app", "p@ss/w:rd", "c1-primary.ns.svc", 5432, Some("app"));
        assert_eq!(uri, "postgresql://app:p%40ss%2Fw%3Ard@c1-primary.ns.svc:5432/app");
        assert_eq!(jdbc, "jdbc:postgresql://c1-primary.ns.svc:5432/app?password=p%40ss%2Fw%3Ard&user=app");
        let (uri, jdbc) = uris("app", "x", "h", 5432, None);
        assert_eq!(uri, "postgresql://app:x@h:5432");
        assert_eq!(jdbc, "jdbc:postgresql://h:5432/?password=x&user=app");
    }

    #[test]
    fn superusers_are_recognised() {
        let u = |name: &str, opts: Option<&str>| PgUser {
            name: name.into(),
            options: opts.map(Into::into),
            ..Default::default()
        };
        assert!(is_superuser(&u("postgres", None)));
        assert!(is_superuser(&u("admin", Some("SUPERUSER CREATEDB"))));
        assert!(!is_superuser(&u("app", Some("NOSUPERUSER"))));
    }
}
