//! What the OpenAPI documents of a node and of the manager say alike, so
//! a client reading them (Postman, schemathesis) knows every answer it can
//! get: which operations need the bearer token, and the refusals of input
//! that every operation taking a body or parameters can give.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, Response, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use crate::bearer::BEARER;

/// Documents what a token middleware on `router` does: each operation
/// takes any one of `schemes`, or none (a process without a token), and
/// may answer 401 for the reason given.
pub fn guarded<S>(mut router: OpenApiRouter<S>, schemes: &[&str], why_401: &str) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut security = vec![SecurityRequirement::default()];
    security.extend(
        schemes
            .iter()
            .map(|scheme| SecurityRequirement::new(*scheme, Vec::<String>::new())),
    );
    let unauthorized = error_response(why_401);
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for operation in operations(item) {
            operation.security = Some(security.clone());
            operation
                .responses
                .responses
                .insert("401".to_owned(), unauthorized.clone().into());
        }
    }
    router
}

/// Adds the `Authorization: Bearer` scheme that [`guarded`] operations cite.
pub fn add_bearer_scheme(document: &mut OpenApi) {
    document
        .components
        .get_or_insert_default()
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Adds to every operation of `document` the refusals its input can get,
/// where it does not name them already: 400 for parameters that do not
/// parse or a body that is not JSON, 413 for a body over the limit and 422
/// for JSON of the wrong shape.
pub fn document_refusals(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let path_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        for operation in operations(item) {
            let parameters =
                path_parameters || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let body = operation.request_body.is_some();
            let mut refusals = Vec::new();
            if parameters || body {
                refusals.push((
                    "400",
                    "Parameters that do not parse, or a body that is not JSON",
                ));
            }
            if body {
                refusals.push(("413", "A body over the size limit"));
                refusals.push(("422", "JSON of the wrong shape"));
            }
            for (status, why) in refusals {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(why).into());
            }
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
