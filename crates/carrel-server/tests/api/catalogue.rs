//! Issue 16 items 3, 4 and 6: the catalogue searched and edited, and
//! patrons found by name only for a stated purpose.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

async fn items_are_searched_and_edited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let supervisor = app.sign_in("supervisor").await;
    let (status, item) = app
        .post(
            &supervisor,
            "/api/v1/items",
            json!({"barcode": "39100000000001", "title": "The 50% Solution_", "author": "Ida Quill", "material_type": "book"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    assert_eq!(item["material_type"], "book");
    let id = item["id"].as_i64().unwrap();
    let clerk = app.sign_in("clerk").await;
    for (query, found) in [
        ("50%25 sol", true),
        ("quill", true),
        ("39100000000001", true),
        // LIKE's wildcards are searched for as themselves.
        ("%25%25", false),
        ("__", false),
    ] {
        let (status, list) = app.get(&clerk, &format!("/api/v1/items?q={query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        let hit = list
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"].as_i64() == Some(id));
        assert_eq!(hit, found, "{query}: {list}");
    }
    let (status, _) = app.get(&clerk, "/api/v1/items?q=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A clerk may not edit the catalogue (the policy's roles); a supervisor
    // may, and null clears a field.
    let path = format!("/api/v1/items/{id}");
    let (status, _) = app
        .call(Some(&clerk), "PATCH", &path, Some(json!({"title": "X"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, changed) = app
        .call(
            Some(&supervisor),
            "PATCH",
            &path,
            Some(json!({"title": "The Whole Solution", "author": null, "call_number": "FIC QUI"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["title"], "The Whole Solution");
    assert!(changed["author"].is_null());
    assert_eq!(changed["call_number"], "FIC QUI");
    assert_eq!(changed["material_type"], "book");
    // A barcode that is taken is refused.
    app.new_item().await;
    let other = app.raw_strings("SELECT barcode FROM items WHERE title = 'The Quiet Atlas'");
    let (status, body) = app
        .call(
            Some(&supervisor),
            "PATCH",
            &path,
            Some(json!({"barcode": other[0]})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_barcode_taken")
    );
    app.finish();
}

/// D6: a search by name must state a purpose; each patron found is an
/// audited read for it, with only that purpose's fields; the name searched
/// for is recorded nowhere.
async fn d6_patrons_are_found_by_name_only_for_a_purpose(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let family = patron.name.split(' ').nth(1).unwrap().to_string();
    let (status, body) = app
        .post(&clerk, "/api/v1/patrons/search", json!({"name": family}))
        .await;
    assert!(status.is_client_error(), "no purpose: {body}");
    let (status, found) = app
        .post(
            &clerk,
            "/api/v1/patrons/search",
            json!({"name": family.to_lowercase(), "purpose": "account_notices"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], patron.id);
    assert_eq!(found[0]["fields"]["email"], patron.email.as_str());
    assert!(found[0]["fields"].get("name").is_none());
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE record_id = 'patron:{}' AND purpose = 'account_notices'",
            patron.id
        )),
        1
    );
    let details = app.raw_strings("SELECT COALESCE(detail, '') FROM audit_log");
    assert!(details
        .iter()
        .all(|d| !d.to_lowercase().contains(&family.to_lowercase())));
    let (status, _) = app
        .post(
            &clerk,
            "/api/v1/patrons/search",
            json!({"name": family, "purpose": "curiosity"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The auditor's role reads no registrations, whatever the purpose.
    let auditor = app.sign_in("auditor").await;
    let (status, _) = app
        .post(
            &auditor,
            "/api/v1/patrons/search",
            json!({"name": family, "purpose": "account"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.finish();
}

on_both_engines!(
    the_catalogue_pages_add_change_and_load_a_marc_file,
    items_are_searched_and_edited,
    d6_patrons_are_found_by_name_only_for_a_purpose
);

/// Issue 16 item 4: the catalogue on the staff pages: add, change, find,
/// and load a MARC file through the upload form, every record not loaded
/// named; a role that may not change the catalogue cannot, by form or by
/// address.
async fn the_catalogue_pages_add_change_and_load_a_marc_file(engine: Engine) {
    use carrel_marc::{iso2709, Field, Record};
    let app = TestApp::spawn(engine).await;
    let supervisor = app.browser();
    supervisor.staff_sign_in("supervisor").await;
    let page = supervisor.get("/staff/items").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let token = page.form_token();
    let added = supervisor
        .post(
            "/staff/items",
            &[
                ("form_token", &token),
                ("barcode", "39200000000001"),
                ("title", "Gardens of the Moon"),
                ("author", "Erikson, Steven"),
                ("material_type", "book"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
    let item = supervisor.follow(&added).await;
    assert!(item.html.contains("Added to the catalogue"));
    let path = added.location.unwrap().replace("?added", "");
    let saved = supervisor
        .post(
            &path,
            &[
                ("form_token", &token),
                ("barcode", "39200000000001"),
                ("title", "Gardens of the Moon"),
                ("author", ""),
                ("call_number", "FIC ERI"),
                ("material_type", "book"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let found = supervisor.get("/staff/items?q=gardens").await;
    assert!(found.html.contains("FIC ERI"));
    assert!(!found.html.contains("Erikson"));

    // A MARC file with a bad record.
    let book = |n: usize, barcode: &str| Record {
        leader: "00000nam a2200000 a 4500".into(),
        fields: vec![
            Field::Data {
                tag: "245".into(),
                subfields: vec![('a', format!("Loaded book {n} /"))],
            },
            Field::Data {
                tag: "952".into(),
                subfields: vec![('p', barcode.to_string())],
            },
        ],
    };
    let mut file = iso2709::write(&book(1, "39200000000002"));
    let mut broken = iso2709::write(&book(2, "39200000000003"));
    broken[..5].copy_from_slice(b"00042");
    file.extend(broken);
    file.extend(iso2709::write(&book(3, "39200000000001")));
    file.extend(iso2709::write(&book(4, "39200000000004")));
    let form = supervisor.get("/staff/items/import").await;
    assert_eq!(form.status, StatusCode::OK);
    let before = app.raw_count("SELECT COUNT(*) FROM items");
    let report = supervisor
        .upload(
            "/staff/items/import",
            &form.form_token(),
            "catalogue.mrc",
            &file,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.html);
    assert!(
        report
            .html
            .contains("4 records read, <strong>2 items loaded</strong>, 2 problems"),
        "{}",
        report.html
    );
    assert!(
        report
            .html
            .contains("Record 2: the leader says the record is 42 bytes long"),
        "{}",
        report.html
    );
    assert!(
        report
            .html
            .contains("Record 3: an item with that barcode is already in the catalogue"),
        "{}",
        report.html
    );
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM items"), before + 2);

    // A file larger than the router's small-form limit, and larger than
    // the 2 MB a multipart reader takes by default, loads whole.
    let mut csv = String::from("barcode,title\n");
    let mut rows = 0;
    while csv.len() < 2_600_000 {
        csv.push_str(&format!(
            "395{rows:011},A title long enough to fill a large file quickly {rows}\n"
        ));
        rows += 1;
    }
    let big = supervisor
        .upload(
            "/staff/items/import",
            &form.form_token(),
            "items.csv",
            csv.as_bytes(),
        )
        .await;
    assert_eq!(
        big.status,
        StatusCode::OK,
        "{}",
        &big.html[..big.html.len().min(2000)]
    );
    assert!(big
        .html
        .contains(&format!("<strong>{rows} items loaded</strong>")));

    // Without the form token: refused, nothing loaded.
    let refused = supervisor
        .upload(
            "/staff/items/import",
            "not-the-token",
            "catalogue.mrc",
            &file,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A clerk reads the catalogue but may not change it.
    let clerk = app.browser();
    clerk.staff_sign_in("clerk").await;
    let page = clerk.get("/staff/items").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("Add an item"));
    let form = clerk.get("/staff/items/import").await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    let refused = clerk
        .upload(
            "/staff/items/import",
            &page.form_token(),
            "catalogue.mrc",
            &file,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM items"),
        before + 2 + rows
    );
    app.finish();
}
