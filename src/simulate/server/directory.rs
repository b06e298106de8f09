//! Graph's `/users/delta` and `/users/{id}` for the simulated directory: the token is
//! checked, the 403 mode answers as Graph does without User.Read.All, only `$select`-ed
//! properties are returned, and paging and deltaLinks carry their position in
//! `$skiptoken` / `$deltatoken`.

use super::Simulator;
use super::respond::{graph_error, json};
use crate::http_server::Body;
use hyper::{Response, StatusCode};
use serde_json::{Map, Value};

/// Where a delta request starts.
enum Position {
    /// A full read at generation `at`, from user index `from`.
    Full { at: u64, from: u64 },
    /// Changes in `(since, until]`, from the `skip`-th.
    Changes { since: u64, until: u64, skip: usize },
}

fn parse_position(text: &str) -> Option<Position> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        ["f", at, from] => Some(Position::Full {
            at: at.parse().ok()?,
            from: from.parse().ok()?,
        }),
        ["c", since, until, skip] => Some(Position::Changes {
            since: since.parse().ok()?,
            until: until.parse().ok()?,
            skip: skip.parse().ok()?,
        }),
        _ => None,
    }
}

/// Only `id`, `@removed` and the selected properties.
fn selected(user: Map<String, Value>, select: &[String]) -> Value {
    Value::Object(
        user.into_iter()
            .filter(|(key, _)| key == "id" || key == "@removed" || select.contains(key))
            .collect(),
    )
}

impl Simulator {
    /// `GET {graph}/{version}/users/delta` and `GET {graph}/{version}/users/{id}`.
    pub(super) async fn directory(
        &self,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
    ) -> Response<Body> {
        let directory = &self.directory;
        directory.note_request(match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        });
        if !self.token_valid(authorization) {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            );
        }
        if directory.forbidden() {
            return graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            );
        }
        let parameters: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let parameter = |name: &str| {
            parameters
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let select: Vec<String> = parameter("$select")
            .unwrap_or("id")
            .split(',')
            .map(|name| name.trim().to_owned())
            .collect();
        let (version, rest) = match path.strip_prefix("/v1.0/users") {
            Some(rest) => ("v1.0", rest),
            None => ("beta", path.strip_prefix("/beta/users").unwrap_or("")),
        };
        if rest != "/delta" {
            let id = rest.trim_start_matches('/');
            let latency = directory.user_latency();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            return match directory.user_by_id(id) {
                Some(user) => json(StatusCode::OK, selected(user, &select).to_string()),
                None => graph_error(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                    ),
                ),
            };
        }
        let latency = directory.delta_latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(status) = directory.delta_link_status()
            && parameter("$deltatoken").is_some()
        {
            return graph_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulatedFailure",
                "The simulator was told to fail requests from a deltaLink.",
            );
        }
        let now = directory.generation();
        let position = match (parameter("$deltatoken"), parameter("$skiptoken")) {
            (Some(token), _) => match token.parse::<u64>() {
                Ok(since) if since <= now && directory.delta_link_valid(since) => {
                    Some(Position::Changes {
                        since,
                        until: now,
                        skip: 0,
                    })
                }
                _ => None,
            },
            (None, Some(token)) => parse_position(token),
            (None, None) => Some(Position::Full { at: now, from: 0 }),
        };
        let Some(position) = position else {
            return graph_error(
                StatusCode::GONE,
                "resyncRequired",
                "The delta token is not valid; start over without it.",
            );
        };
        let (users, next, generation) = match position {
            Position::Full { at, from } => {
                let (users, more) = directory.full_page(from);
                let next = more.then(|| format!("f.{at}.{}", from + directory.page_size() as u64));
                (users, next, at)
            }
            Position::Changes { since, until, skip } => {
                let (users, more) = directory.changes_page(since, until, skip);
                let next =
                    more.then(|| format!("c.{since}.{until}.{}", skip + directory.page_size()));
                (users, next, until)
            }
        };
        let select_text = select.join(",");
        let link = |name: &str, token: &str| {
            let mut url = format!("{}/{version}/users/delta?", self.public_url);
            url.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(name, token)
                    .append_pair("$select", &select_text)
                    .finish(),
            );
            url
        };
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::from(format!(
                "{}/{version}/$metadata#users({select_text})",
                self.public_url
            )),
        );
        match next {
            Some(token) => body.insert("@odata.nextLink".into(), link("$skiptoken", &token).into()),
            None => body.insert(
                "@odata.deltaLink".into(),
                link("$deltatoken", &generation.to_string()).into(),
            ),
        };
        body.insert(
            "value".into(),
            Value::Array(
                users
                    .into_iter()
                    .map(|user| selected(user, &select))
                    .collect(),
            ),
        );
        json(StatusCode::OK, Value::Object(body).to_string())
    }
}
