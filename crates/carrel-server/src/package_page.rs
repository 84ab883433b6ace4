//! The page of a released package: the package's JSON file shown as
//! HTML, cover sheet first (issue 15 moves it onto the pages' templates).
//! The store keeps only the JSON file; the page is made from it when it is
//! asked for, so the two can never say different things.

use serde_json::Value as Json;

/// The package's page, from its JSON file (`None` if the file is not the
/// JSON the store writes).
pub fn render(json: &str) -> Option<String> {
    let document: Json = serde_json::from_str(json).ok()?;
    document["cover_sheet"].is_object().then(|| page(&document))
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cell(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => escape_html(s),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", escape_html(k), cell(v)))
            .collect::<Vec<_>>()
            .join("<br>"),
        other => escape_html(&other.to_string()),
    }
}

/// The page of a package: its cover sheet, then each class's records as
/// tables, from the package's JSON document.
fn page(document: &Json) -> String {
    let cover = &document["cover_sheet"];
    let text = |field: &str| match &cover[field] {
        Json::String(s) => escape_html(s),
        other => escape_html(&other.to_string()),
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
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Disclosure {request} · {library}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}}.cover{{border:2px solid #333;padding:1rem;margin-bottom:2rem}}</style></head><body>\
         <section class=\"cover\" id=\"cover-sheet\"><h1>Disclosure of library records</h1><table>\
         <tr><th>Library</th><td>{library}</td></tr>\
         <tr><th>Request</th><td id=\"request\">{request}</td></tr>\
         <tr><th>Legal basis</th><td>{legal_basis} ({basis})</td></tr>\
         <tr><th>Requested by</th><td>{requester}</td></tr>\
         <tr><th>Approved by</th><td>{approver}</td></tr>\
         <tr><th>Released on</th><td>{released}</td></tr>\
         <tr><th>Records of</th><td>patron:{patron}</td></tr>\
         <tr><th>Classes</th><td>{classes}</td></tr>\
         <tr><th>Dates</th><td>{from} to {to}</td></tr></table>\
         <p>Confidential library records. Released under the basis above only; not to be passed on.</p></section>",
        request = text("request"),
        library = text("library"),
        legal_basis = text("legal_basis"),
        basis = text("basis"),
        requester = text("requester_kind"),
        approver = text("approved_by"),
        released = text("released_on"),
        patron = text("patron"),
        classes = escape_html(&classes),
        from = text("from_date"),
        to = text("to_date"),
    );
    if let Some(classes) = document["records"].as_object() {
        for (class, section) in classes {
            out.push_str(&format!("<h2>{}</h2>", escape_html(class)));
            let Some(kinds) = section.as_object() else {
                continue;
            };
            for (kind, records) in kinds {
                out.push_str(&format!(
                    "<h3>{}</h3>",
                    escape_html(&kind.replace('_', " "))
                ));
                let rows: Vec<&Json> = match records {
                    Json::Array(list) => list.iter().collect(),
                    single => vec![single],
                };
                // Every fact any record has (one set aside in secret also
                // says why and when), in the order first met.
                let mut columns: Vec<&String> = Vec::new();
                for name in rows
                    .iter()
                    .filter_map(|r| r.as_object())
                    .flat_map(|r| r.keys())
                {
                    if !columns.contains(&name) {
                        columns.push(name);
                    }
                }
                if columns.is_empty() {
                    out.push_str("<p>None in these dates.</p>");
                    continue;
                }
                out.push_str("<table><tr>");
                for name in &columns {
                    out.push_str(&format!("<th>{}</th>", escape_html(name)));
                }
                out.push_str("</tr>");
                for row in rows {
                    out.push_str("<tr>");
                    for name in &columns {
                        out.push_str(&format!("<td>{}</td>", cell(&row[name.as_str()])));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table>");
            }
        }
    }
    out.push_str("</body></html>");
    out
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
            "&lt;script&gt;",
            "&lt;b&gt;dana",
            "&lt;img src=x onerror=1&gt;",
            "patron:7",
            "circulation",
        ] {
            assert!(page.contains(shown), "{shown} missing");
        }
        assert!(page.starts_with("<!doctype html><html lang=\"en\">"));
    }

    #[test]
    fn only_a_package_makes_a_page() {
        assert_eq!(render("not json"), None);
        assert_eq!(render("{\"records\": {}}"), None);
    }
}
