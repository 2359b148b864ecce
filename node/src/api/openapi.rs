//! The OpenAPI document, built from the same route list as the router.

use axum::Json;
use serde_json::{json, Map, Value};

use crate::api::ROUTES;

/// `GET /openapi.json`
pub async fn document() -> Json<Value> {
    Json(build())
}

/// The OpenAPI 3.1 document of the API.
pub fn build() -> Value {
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let mut op = json!({
            "summary": summary,
            "security": [{"bearer": []}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}, "401": error, "4XX": error, "503": error},
        });
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "description": "federation id (64 hex)", "schema": {"type": "string"}}]);
        }
        if *method == "post" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChainFile"}}}});
        }
        if *method == "put" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlatformProfile"}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "fednode local API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "contents of api.token in the data directory"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}, "required": ["code", "message"]}}},
                "PlatformProfile": {"type": "object", "additionalProperties": false, "properties": {"display_name": {"type": "string"}, "description": {"type": "string"}, "contact": {"type": "string"}, "addresses": {"type": "array", "items": {"type": "string"}}}, "required": ["display_name"]},
                "ChainFile": {"type": "object", "description": "a membership chain file (format fednet-membership-chain/1)", "properties": {"format": {"type": "string"}, "federation": {"type": "string"}, "records": {"type": "array", "items": {"type": "object"}}}, "required": ["format", "federation", "records"]}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = build();
        for (method, path, _) in ROUTES {
            assert!(
                doc["paths"][*path][*method].is_object(),
                "{method} {path} missing"
            );
        }
    }
}
