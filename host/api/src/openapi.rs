//! The OpenAPI document served at `/api/openapi.json`. The paths come from
//! the handlers' `#[utoipa::path]` through `utoipa_axum::routes!`; this
//! module adds what is common (title, bearer security) and serves it.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Doc, SecurityRequirement};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard API",
        description = "Operator and tenant API of the Switchyard PBX. Every route takes \
            `Authorization: Bearer <token>`: the operator token, or a tenant API key \
            (roles admin, supervisor, agent). Errors are `{error, message}`.",
    ),
    components(schemas(ErrorBody)),
    modifiers(&Bearer)
)]
struct Base;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        doc.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The document before the routes are added.
pub(crate) fn base() -> Doc {
    Base::openapi()
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi_json(Extension(doc): Extension<Arc<Doc>>) -> Json<Doc> {
    Json((*doc).clone())
}
