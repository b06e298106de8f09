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

/// The query of a directory request: its parameters and the `$select`-ed properties.
struct Query {
    parameters: Vec<(String, String)>,
    select: Vec<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let parameters: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let mut parsed = Query {
            parameters,
            select: Vec::new(),
        };
        parsed.select = parsed
            .parameter("$select")
            .unwrap_or("id")
            .split(',')
            .map(|name| name.trim().to_owned())
            .collect();
        parsed
    }

    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A page of `/users/delta`: its users, the `$skiptoken` of the next page (none on the
/// last), and the generation its deltaLink carries.
struct DeltaPage {
    users: Vec<Map<String, Value>>,
    next: Option<String>,
    generation: u64,
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
        let query = Query::parse(query);
        let (version, rest) = match path.strip_prefix("/v1.0/users") {
            Some(rest) => ("v1.0", rest),
            None => ("beta", path.strip_prefix("/beta/users").unwrap_or("")),
        };
        if rest == "/delta" {
            self.delta(version, &query).await
        } else {
            self.user(rest.trim_start_matches('/'), &query).await
        }
    }

    /// `GET /users/{id}`: the user's selected properties, or Graph's 404.
    async fn user(&self, id: &str, query: &Query) -> Response<Body> {
        let latency = self.directory.user_latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match self.directory.user_by_id(id) {
            Some(user) => json(StatusCode::OK, selected(user, &query.select).to_string()),
            None => graph_error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        }
    }

    /// `GET /users/delta`: a page of a full read or of the changes since a deltaLink.
    async fn delta(&self, version: &str, query: &Query) -> Response<Body> {
        let directory = &self.directory;
        let latency = directory.delta_latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(status) = directory.delta_link_status()
            && query.parameter("$deltatoken").is_some()
        {
            return graph_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulatedFailure",
                "The simulator was told to fail requests from a deltaLink.",
            );
        }
        let Some(position) = self.position(query) else {
            return graph_error(
                StatusCode::GONE,
                "resyncRequired",
                "The delta token is not valid; start over without it.",
            );
        };
        let page = self.delta_page(position);
        json(
            StatusCode::OK,
            self.delta_body(version, &query.select, page).to_string(),
        )
    }

    /// Where a delta request starts, or `None` for a deltaLink no longer taken.
    fn position(&self, query: &Query) -> Option<Position> {
        let directory = &self.directory;
        let now = directory.generation();
        match (
            query.parameter("$deltatoken"),
            query.parameter("$skiptoken"),
        ) {
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
        }
    }

    fn delta_page(&self, position: Position) -> DeltaPage {
        let directory = &self.directory;
        match position {
            Position::Full { at, from } => {
                let (users, more) = directory.full_page(from);
                let next = more.then(|| format!("f.{at}.{}", from + directory.page_size() as u64));
                DeltaPage {
                    users,
                    next,
                    generation: at,
                }
            }
            Position::Changes { since, until, skip } => {
                let (users, more) = directory.changes_page(since, until, skip);
                let next =
                    more.then(|| format!("c.{since}.{until}.{}", skip + directory.page_size()));
                DeltaPage {
                    users,
                    next,
                    generation: until,
                }
            }
        }
    }

    /// The page as Graph writes it: its context, a nextLink or the deltaLink, the users.
    fn delta_body(&self, version: &str, select: &[String], page: DeltaPage) -> Value {
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
        match page.next {
            Some(token) => body.insert("@odata.nextLink".into(), link("$skiptoken", &token).into()),
            None => body.insert(
                "@odata.deltaLink".into(),
                link("$deltatoken", &page.generation.to_string()).into(),
            ),
        };
        let users = page.users.into_iter().map(|user| selected(user, select));
        body.insert("value".into(), Value::Array(users.collect()));
        Value::Object(body)
    }
}
