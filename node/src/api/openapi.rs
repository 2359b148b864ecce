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
    for route in ROUTES {
        let mut op = json!({
            "summary": route.summary,
            "security": [{"bearer": []}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}, "401": error, "4XX": error, "503": error},
        });
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "description": parameter_description(name), "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if let Some(schema) = route.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        if route.path == "/v1/events" {
            op["responses"]["200"] = json!({"description": "text/event-stream: `event: change` (data: {federation, document, kind, change, author}) and `event: lagged` (data: changes missed)", "content": {"text/event-stream": {}}});
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = op;
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
                "Project": {"type": "object", "additionalProperties": false, "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "name": {"type": "string"}, "description": {"type": "string"}, "start_date": {"type": ["string", "null"], "format": "date"}, "end_date": {"type": ["string", "null"], "format": "date"}, "regulatory_frameworks": {"type": "array", "items": {"type": "string"}}, "entities": {"type": "array", "items": {"type": "string"}}, "members": {"type": "array", "items": {"$ref": "#/components/schemas/ProjectMember"}}}, "required": ["code", "name", "description", "start_date", "end_date", "regulatory_frameworks", "entities", "members"]},
                "ProjectMember": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "role": {"type": "string"}}, "required": ["name", "email", "role"]},
                "ProjectPatch": {"type": "object", "additionalProperties": false, "description": "any subset of the fields of Project; an empty date removes it"},
                "Share": {"type": "object", "additionalProperties": false, "properties": {"recipients": {"type": "array", "items": {"type": "object", "additionalProperties": false, "properties": {"platform_id": {"type": "string"}, "access": {"enum": ["read", "write"]}}, "required": ["platform_id", "access"]}}}, "required": ["recipients"]},
                "ExportRequest": {"type": "object", "additionalProperties": false, "description": "the dataset asked for: title, dataset, variables, period_start, period_end, population, purpose, legal_basis, pseudonymised, delivery_mode"},
                "ExportCreate": {"type": "object", "additionalProperties": false, "properties": {"provider": {"type": "string"}, "project": {"type": "string"}, "request": {"$ref": "#/components/schemas/ExportRequest"}}, "required": ["provider", "project", "request"]},
                "Transition": {"type": "object", "additionalProperties": false, "properties": {"to": {"enum": ["draft", "submitted", "information_requested", "approved", "approved_with_conditions", "rejected", "in_preparation", "delivered", "closed", "cancelled", "revoked"]}, "comment": {"type": "string"}, "conditions": {"type": "string"}, "reference": {"type": "string"}}, "required": ["to"]},
                "ChainFile": {"type": "object", "description": "a membership chain file (format fednet-membership-chain/1)", "properties": {"format": {"type": "string"}, "federation": {"type": "string"}, "records": {"type": "array", "items": {"type": "object"}}}, "required": ["format", "federation", "records"]}
            }
        }
    })
}

fn parameter_description(name: &str) -> &'static str {
    match name {
        "id" => "federation id (64 hex)",
        "project" => "project document id (project:<32 hex>)",
        "export" => "export request document id (export:<32 hex>)",
        "platform" => "platform id",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = build();
        for route in ROUTES {
            assert!(
                doc["paths"][route.path][route.method].is_object(),
                "{} {} missing",
                route.method,
                route.path
            );
            if let Some(schema) = route.body {
                assert!(
                    doc["components"]["schemas"][schema].is_object(),
                    "schema {schema} of {} {} missing",
                    route.method,
                    route.path
                );
            }
        }
    }
}
