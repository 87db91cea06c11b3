//! `GET /api/tenants/{tenant}/directory`: who and what a member of the
//! tenant can dial — its extensions (number and name) and its queues'
//! transfer numbers — as a phone's directory shows them. Every role reads
//! it: an agent's panel offers these as transfer targets, though agents
//! read no configuration.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use switchyard_store::{ExtensionRepo, QueueRepo};
use utoipa::ToSchema;

use super::TenantP;
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiPath, ApiResult, ErrorBody};

/// An extension as the directory shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryExtension {
    pub number: String,
    pub name: Option<String>,
}

/// A queue a caller can be transferred into, by its number.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryQueue {
    pub name: String,
    /// Its transfer number; queues without one are not listed.
    pub number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Directory {
    pub extensions: Vec<DirectoryExtension>,
    pub queues: Vec<DirectoryQueue>,
}

/// The tenant's directory (every role).
#[utoipa::path(get, path = "/api/tenants/{tenant}/directory", tag = "extensions",
    params(TenantP),
    responses((status = 200, body = Directory), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Directory>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    let extensions = s
        .store
        .list_extensions(scope.id())?
        .into_iter()
        .map(|e| DirectoryExtension {
            number: e.number,
            name: e.display_name,
        })
        .collect();
    let queues = s
        .store
        .list_queues(scope.id())?
        .into_iter()
        .filter_map(|q| {
            Some(DirectoryQueue {
                number: q.extension?,
                name: q.name,
            })
        })
        .collect();
    Ok(Json(Directory { extensions, queues }))
}
