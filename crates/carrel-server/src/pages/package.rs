//! The page of a released package: the package's JSON file shown as
//! HTML, cover sheet first, on the pages' layout (without its menu: the
//! page is a file to keep).
//! The store keeps only the JSON file; the page is made from it when it is
//! asked for, so the two can never say different things.

use askama::Template;
use serde_json::Value as Json;

use super::Frame;

/// What the cover sheet says, as text.
struct Cover {
    library: String,
    request: String,
    legal_basis: String,
    basis: String,
    requester_kind: String,
    approved_by: String,
    released_on: String,
    patron: String,
    classes: String,
    from_date: String,
    to_date: String,
}

/// One kind of record of a class: its facts as columns, each record a row
/// of cells, each cell one or more lines.
struct Kind {
    label: String,
    columns: Vec<String>,
    rows: Vec<Vec<Vec<String>>>,
}

struct Section {
    class: String,
    kinds: Vec<Kind>,
}

#[derive(Template)]
#[template(path = "package.html")]
struct PackagePage {
    frame: Frame,
    cover: Cover,
    sections: Vec<Section>,
}

/// The package's page, from its JSON file (`None` if the file is not the
/// JSON the store writes).
pub fn render(json: &str) -> Option<String> {
    let document: Json = serde_json::from_str(json).ok()?;
    if !document["cover_sheet"].is_object() {
        return None;
    }
    page(&document).render().ok()
}

/// A value as the lines of a cell: an object's facts one per line.
fn cell(value: &Json) -> Vec<String> {
    match value {
        Json::Null => vec![],
        Json::String(s) => vec![s.clone()],
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", cell(v).join(", ")))
            .collect(),
        other => vec![other.to_string()],
    }
}

/// The page of a package: its cover sheet, then each class's records as
/// tables, from the package's JSON document.
fn page(document: &Json) -> PackagePage {
    let cover = &document["cover_sheet"];
    let text = |field: &str| match &cover[field] {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let classes = cover["classes"]
        .as_array()
        .map(|classes| {
            classes
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let mut sections = Vec::new();
    if let Some(classes) = document["records"].as_object() {
        for (class, section) in classes {
            let mut kinds = Vec::new();
            for (kind, records) in section.as_object().into_iter().flatten() {
                let rows: Vec<&Json> = match records {
                    Json::Array(list) => list.iter().collect(),
                    single => vec![single],
                };
                // Every fact any record has (one set aside in secret also
                // says why and when), in the order first met.
                let mut columns: Vec<String> = Vec::new();
                for name in rows
                    .iter()
                    .filter_map(|r| r.as_object())
                    .flat_map(|r| r.keys())
                {
                    if !columns.contains(name) {
                        columns.push(name.clone());
                    }
                }
                let rows = if columns.is_empty() {
                    Vec::new()
                } else {
                    rows.iter()
                        .map(|row| {
                            columns
                                .iter()
                                .map(|name| cell(&row[name.as_str()]))
                                .collect()
                        })
                        .collect()
                };
                kinds.push(Kind {
                    label: kind.replace('_', " "),
                    columns,
                    rows,
                });
            }
            sections.push(Section {
                class: class.clone(),
                kinds,
            });
        }
    }
    PackagePage {
        frame: Frame::standalone(&text("library")),
        cover: Cover {
            library: text("library"),
            request: text("request"),
            legal_basis: text("legal_basis"),
            basis: text("basis"),
            requester_kind: text("requester_kind"),
            approved_by: text("approved_by"),
            released_on: text("released_on"),
            patron: text("patron"),
            classes,
            from_date: text("from_date"),
            to_date: text("to_date"),
        },
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    /// Everything a package holds is text to the page: a library name, a
    /// staff name or a record value with markup in it shows as written.
    #[test]
    fn the_page_escapes_what_the_package_holds() {
        let document = json!({
            "cover_sheet": {
                "library": "<script>alert(1)</script>", "request": "D-1", "basis": "court_order",
                "legal_basis": "RSMo \"182\" & more", "requester_kind": "law_enforcement",
                "approved_by": "<b>dana</b>", "released_on": "2026-12-01", "patron": 7,
                "classes": ["circulation"], "from_date": "2026-01-01", "to_date": "2026-12-01"
            },
            "time_zone": "America/Chicago",
            "records": {"circulation": {"loans": [{"title": "<img src=x onerror=1>", "id": 3}]}}
        });
        let page = render(&document.to_string()).unwrap();
        for raw in ["<script>", "<b>dana", "<img", "\"182\""] {
            assert!(!page.contains(raw), "{raw} unescaped");
        }
        for shown in [
            "&#60;script&#62;",
            "&#60;b&#62;dana",
            "&#60;img src=x onerror=1&#62;",
            "patron:7",
            "circulation",
        ] {
            assert!(page.contains(shown), "{shown} missing");
        }
        assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">"));
        assert!(page.contains("name=\"viewport\""));
    }

    #[test]
    fn only_a_package_makes_a_page() {
        assert_eq!(render("not json"), None);
        assert_eq!(render("{\"records\": {}}"), None);
    }
}
