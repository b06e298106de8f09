//! Reading the directory for enrichment: `GET /v1.0/users/delta?$select=...` page by
//! page to its `@odata.deltaLink`, later rounds from that deltaLink (only changes),
//! and `GET /v1.0/users/{id}?$select=...` for one user not seen yet. Every request
//! goes through the source's client (rate cap, Retry-After, token, retries), and every
//! link Graph hands back is vetted like a call-log nextLink (origin, no credentials, no
//! loop, a page cap). What to keep of the users is the caller's business.

use super::client::Resource;
use super::paging::FollowedLinks;
use super::{GraphClient, GraphError, PageError};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use url::Url;

/// One user object as Graph sent it: `id` and the selected properties present
/// (a change may carry only what changed), or `@removed` for a user gone from the
/// directory.
pub type DirectoryUser = Map<String, Value>;

/// One page of `/users/delta`.
#[derive(Debug, Default)]
pub struct DirectoryPage {
    /// The users of the page.
    pub users: Vec<DirectoryUser>,
    /// Where the next page is, exactly as Graph wrote it.
    pub next_link: Option<String>,
    /// On the last page: where the next round of changes starts.
    pub delta_link: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryPageShape {
    value: Option<Vec<DirectoryUser>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

impl DirectoryPage {
    /// Reads a page body; anything but an object with a `value` array is unreadable.
    pub fn parse(body: Bytes) -> Result<DirectoryPage, PageError> {
        let shape: DirectoryPageShape =
            serde_json::from_slice(&body).map_err(|error| PageError::new(error.to_string()))?;
        let users = shape
            .value
            .ok_or_else(|| PageError::new("no \"value\" array".into()))?;
        if users.len() > super::page::MAX_ROWS_PER_PAGE {
            return Err(PageError::new(format!(
                "more than {} users in one page",
                super::page::MAX_ROWS_PER_PAGE
            )));
        }
        Ok(DirectoryPage {
            users,
            next_link: shape.next_link.filter(|link| !link.is_empty()),
            delta_link: shape.delta_link.filter(|link| !link.is_empty()),
        })
    }
}

fn parse_user(body: Bytes) -> Result<DirectoryUser, PageError> {
    serde_json::from_slice(&body).map_err(|error| PageError::new(error.to_string()))
}

/// Whether `id` looks like an Entra object id (a GUID): only those are looked up, so
/// a row's `userId` can never steer the request anywhere else on Graph.
pub fn is_object_id(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// The pages of one round of `/users/delta`, from the start or from a deltaLink.
#[derive(Debug)]
pub struct DeltaChain {
    client: Arc<GraphClient>,
    next: Option<Result<Url, GraphError>>,
    followed: FollowedLinks,
}

impl DeltaChain {
    /// The next page; `None` once the page with the deltaLink was returned or an error
    /// ended the round.
    pub async fn next_page(&mut self) -> Option<Result<DirectoryPage, GraphError>> {
        let url = match self.next.take()? {
            Ok(url) => url,
            Err(error) => return Some(Err(error)),
        };
        let page = match self
            .client
            .get_parsed(&url, Resource::Directory, DirectoryPage::parse)
            .await
        {
            Ok(page) => page,
            Err(error) => return Some(Err(error)),
        };
        self.followed.read(url);
        self.next = page.next_link.as_deref().map(|link| {
            self.followed
                .vet(&self.client, link, "one round of /users/delta")
        });
        if self.next.is_none() && page.delta_link.is_none() {
            self.next = Some(Err(GraphError::EndlessPaging(
                "a /users/delta page had neither @odata.nextLink nor @odata.deltaLink".into(),
            )));
        }
        tracing::debug!(
            users = page.users.len(),
            page = self.followed.pages(),
            "directory page read"
        );
        Some(Ok(page))
    }
}

impl GraphClient {
    /// `{graph_url}/v1.0/users/delta?$select={select}`: a full read of the directory.
    pub fn directory_delta_url(&self, select: &str) -> Result<Url, GraphError> {
        let base = self.endpoint().base.as_str().trim_end_matches('/');
        let mut url = Url::parse(&format!("{base}/v1.0/users/delta"))
            .map_err(|error| GraphError::BadNextLink(error.to_string()))?;
        url.query_pairs_mut().append_pair("$select", select);
        Ok(url)
    }

    /// One round of `/users/delta`: from `delta_link` when one was kept (vetted like
    /// a nextLink: it came from Graph, was stored, and the token only goes to
    /// `graph_url`), otherwise a full read selecting `select`.
    pub fn directory_delta(self: &Arc<Self>, select: &str, delta_link: Option<&str>) -> DeltaChain {
        let first = match delta_link {
            Some(link) => self.endpoint().check_next_link(link),
            None => self.directory_delta_url(select),
        };
        DeltaChain {
            client: self.clone(),
            next: Some(first),
            followed: FollowedLinks::default(),
        }
    }

    /// `GET /v1.0/users/{id}?$select={select}`: one user, `None` when Graph has no
    /// such user (404) or `id` is not an object id.
    pub async fn directory_user(
        &self,
        id: &str,
        select: &str,
    ) -> Result<Option<DirectoryUser>, GraphError> {
        if !is_object_id(id) {
            return Ok(None);
        }
        let base = self.endpoint().base.as_str().trim_end_matches('/');
        let mut url = Url::parse(&format!("{base}/v1.0/users/{id}"))
            .map_err(|error| GraphError::BadNextLink(error.to_string()))?;
        url.query_pairs_mut().append_pair("$select", select);
        // One attempt: a look-up is worth only what it adds to this poll; the caller
        // bounds its time, and a user not found now is asked again by a later poll.
        match self
            .attempt(&url, Resource::DirectoryUser, parse_user)
            .await
        {
            Ok(user) => Ok(Some(user)),
            Err(GraphError::Refused { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_page_keeps_users_and_both_links() {
        let body = r#"{"@odata.context":"x","value":[{"id":"a","department":"Sales","employeeOrgData":{"costCenter":"CC-1","division":null}},{"id":"b","@removed":{"reason":"deleted"}}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x"}"#;
        let page = DirectoryPage::parse(Bytes::from(body)).unwrap();
        assert_eq!(page.users.len(), 2);
        assert_eq!(page.users[0]["department"], "Sales");
        assert!(page.users[1].contains_key("@removed"));
        assert_eq!(page.next_link, None);
        assert!(page.delta_link.unwrap().ends_with("$deltatoken=x"));
        assert!(DirectoryPage::parse(Bytes::from("{}")).is_err());
    }

    #[test]
    fn only_object_ids_are_looked_up() {
        assert!(is_object_id("0f9b6d1a-1234-4abc-8def-0123456789ab"));
        assert!(!is_object_id("../../me"));
        assert!(!is_object_id("0f9b6d1a-1234-4abc-8def-0123456789a/"));
    }
}
