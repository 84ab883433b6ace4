//! Every answer a black-box test gets from the API is checked against the
//! API's own description (`/api/v1/openapi.json`): its status must be one
//! the description lists for that route and method, and a JSON body must
//! validate against the schema listed for that status (issue 14, item 6).
//! A test whose answer the description does not allow fails, naming the
//! route, the status and what did not fit (never the body's values).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

fn description() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_json::to_value(carrel_server::routes::openapi_document())
            .expect("the description is JSON")
    })
}

/// The described path that `path` (no query string) is an instance of.
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let paths = description()["paths"].as_object()?;
    // Literal segments win over a parameter (`/items/by-barcode/{barcode}`
    // over `/items/{id}`): the most literal match is taken.
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// A `$ref` into the description, followed.
fn resolve(value: &'static Value) -> &'static Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => description()
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or(value),
        None => value,
    }
}

/// A validator for a schema of the description (its `$ref`s resolved
/// against the whole description), built once per schema.
fn validate(schema: &'static Value, body: &Value) -> Result<(), String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<usize, jsonschema::Validator>>> = OnceLock::new();
    let key = schema as *const Value as usize;
    let mut validators = VALIDATORS.get_or_init(Default::default).lock().unwrap();
    let validator = validators.entry(key).or_insert_with(|| {
        let mut root = schema.clone();
        if let Some(object) = root.as_object_mut() {
            object.insert("components".into(), description()["components"].clone());
        } else {
            root = json!({"allOf": [schema], "components": description()["components"]});
        }
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("a schema of the description does not compile: {e}"))
    });
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| {
            // A missing property's message names the property, not a value.
            let required = e.schema_path.to_string().ends_with("/required");
            match required {
                true => format!("at '{}': {e}", e.instance_path),
                false => format!("at '{}' (schema {})", e.instance_path, e.schema_path),
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Checks one answer against the description; panics if it does not fit.
pub fn check(method: &str, path_and_query: &str, status: u16, body: &Value, json: bool) {
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    if !path.starts_with("/api/v1/") {
        return;
    }
    let Some(template) = template_of(path) else {
        return; // An unknown route: the tests of 404s for those.
    };
    let Some(operation) = description()["paths"][template].get(method.to_ascii_lowercase()) else {
        return; // A method the route does not take: 405, by the framework.
    };
    let responses = &operation["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
    else {
        panic!(
            "{method} {template} answered {status}, which its description does not list (it lists {})",
            responses
                .as_object()
                .map(|r| r.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        );
    };
    let response = resolve(response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return; // Not JSON (a package as HTML), or no body described.
    };
    if !json {
        return;
    }
    if let Err(why) = validate(schema, body) {
        panic!("{method} {template} answered {status} with a body its description does not allow: {why}");
    }
}

/// The check itself: an answer with a status the description does not
/// list, or a body that breaks its schema, fails the test that got it.
#[test]
fn answers_the_description_does_not_allow_are_caught() {
    let caught = |status: u16, body: Value| {
        std::panic::catch_unwind(|| check("GET", "/api/v1/patrons/7", status, &body, true)).is_err()
    };
    assert!(
        caught(200, json!({"id": "seven"})),
        "a field of the wrong type"
    );
    assert!(caught(200, json!([])), "a list for an object");
    assert!(caught(299, json!({})), "a status not described");
    assert!(
        !caught(
            401,
            json!({"error": {"code": "unauthenticated", "message": "sign in"}})
        ),
        "a described error"
    );
}
