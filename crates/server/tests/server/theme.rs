//! Themes of the hosted pages: the server's `[theme]`, a client's theme over it, the theme
//! stylesheets, template overrides, and the errors of both.

use std::path::Path;
use std::sync::Arc;

use accrete_server::{Config, Layer, Server};
use serde_json::{Value, json};

use crate::api_client::{admin, problem};
use crate::authorize::{REDIRECT, authorize_path, register_client};
use crate::support::{Browser, TEST_MASTER_KEY, TestApp, each_backend, each_backend_with};

/// A configuration file with a server theme and, optionally, a template folder.
fn server_theme(templates: Option<&Path>) -> Layer {
    let mut text = String::from(
        "[theme]\nbrand = \"Acme Corp\"\nlogo_url = \"/static/acme.svg\"\n\
         primary = \"#0a7d5a\"\nbackground = \"#fafafa\"\ncss = \".card { border-width: 3px; }\"\n",
    );
    if let Some(dir) = templates {
        text.push_str(&format!("templates = {:?}\n", dir.display().to_string()));
    }
    Layer::from_toml(Path::new("accrete.toml"), &text).unwrap()
}

/// A page's HTML with minijinja's `&#x2f;` turned back into `/`, as a browser reads attributes.
async fn page(browser: &Browser, path: &str) -> String {
    let response = browser.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap().replace("&#x2f;", "/")
}

/// The `href` of the theme stylesheet link, if the page has one.
fn theme_css(html: &str) -> Option<String> {
    let start = html.find("href=\"/assets/theme")? + "href=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// Registers the public client `shop` through the API with its own theme.
async fn register_shop(app: &TestApp) {
    let (_tokens, api) = admin(app).await;
    let created = api
        .post(
            "/clients",
            &json!({
                "id": "shop",
                "name": "The shop app",
                "redirect_uris": [REDIRECT],
                "public": true,
                "theme": {"brand": "Shop", "primary": "#ff0000", "css": ".shop { color: red }"}
            }),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

/// Starts an authorization for `client` and returns the sign-in page it leads to.
async fn sign_in_page(app: &TestApp, client: &str) -> String {
    let browser = app.new_browser();
    let response = browser.get(&authorize_path(client, "")).await;
    assert_eq!(response.status(), 303);
    let login = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("/login?tx="), "{login}");
    page(&browser, &login).await
}

#[tokio::test]
async fn the_server_theme_shows_its_brand_and_logo_on_the_sign_in_page() {
    each_backend_with(&server_theme(None), |app| async move {
        let html = page(&app, "/login").await;
        assert!(
            html.contains("<img src=\"/static/acme.svg\" alt=\"Acme Corp\""),
            "{html}"
        );
        assert!(html.contains("· Acme Corp</title>"), "{html}");
        let css = theme_css(&html).expect("a theme stylesheet");
        assert!(css.starts_with("/assets/theme.css?v="), "{css}");
        let signup = page(&app, "/signup").await;
        assert!(signup.contains("alt=\"Acme Corp\""), "{signup}");
    })
    .await;
}

#[tokio::test]
async fn without_a_theme_the_pages_keep_the_built_in_look() {
    each_backend(|app| async move {
        let html = page(&app, "/login").await;
        assert!(
            html.contains("<span class=\"wordmark\">Accrete</span>"),
            "{html}"
        );
        assert_eq!(theme_css(&html), None, "{html}");
        let css = app.get("/assets/theme.css").await;
        assert_eq!(css.status(), 200);
        assert!(!css.text().await.unwrap().contains(":root"));
    })
    .await;
}

#[tokio::test]
async fn a_client_theme_overrides_the_server_theme_in_its_authorize_flow() {
    each_backend_with(&server_theme(None), |app| async move {
        register_shop(&app).await;
        register_client(&app, "plain", true).await;

        let html = sign_in_page(&app, "shop").await;
        assert!(
            html.contains("<img src=\"/static/acme.svg\" alt=\"Shop\""),
            "the client's brand with the server's logo: {html}"
        );
        assert!(!html.contains("Acme Corp"), "{html}");
        let css = theme_css(&html).unwrap();
        assert!(css.starts_with("/assets/theme/shop.css?v="), "{css}");
        let sheet = app.get(&css).await.text().await.unwrap();
        assert!(sheet.contains("--primary: #ff0000;"), "{sheet}");
        assert!(
            sheet.contains("--background: #fafafa;"),
            "server colours fill the gaps: {sheet}"
        );
        assert!(sheet.contains(".shop { color: red }"), "{sheet}");
        assert!(!sheet.contains("border-width: 3px"), "{sheet}");

        let other = sign_in_page(&app, "plain").await;
        assert!(other.contains("alt=\"Acme Corp\""), "{other}");
        assert!(
            theme_css(&other)
                .unwrap()
                .starts_with("/assets/theme.css?v="),
            "{other}"
        );

        let signed_out = page(&app.new_browser(), "/logout?client_id=shop").await;
        assert!(signed_out.contains("alt=\"Shop\""), "{signed_out}");
    })
    .await;
}

#[tokio::test]
async fn theme_stylesheets_serve_the_colours_and_custom_css_with_an_etag() {
    each_backend_with(&server_theme(None), |app| async move {
        register_shop(&app).await;
        let response = app.get("/assets/theme.css").await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/css; charset=utf-8"
        );
        let cache = response.headers()["cache-control"].to_str().unwrap();
        assert!(cache.contains("max-age="), "{cache}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let sheet = response.text().await.unwrap();
        assert!(sheet.contains("--primary: #0a7d5a;"), "{sheet}");
        assert!(sheet.contains("--background: #fafafa;"), "{sheet}");
        let colours = sheet.find(":root").unwrap();
        assert!(
            sheet.find(".card { border-width: 3px; }").unwrap() > colours,
            "custom CSS comes after the colours: {sheet}"
        );

        let again = app
            .client
            .get(app.url("/assets/theme.css"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);

        let client_sheet = app.get("/assets/theme/shop.css").await;
        assert_eq!(client_sheet.status(), 200);
        assert_ne!(client_sheet.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(app.get("/assets/theme/nobody.css").await.status(), 404);
        assert_eq!(app.get("/assets/theme/shop").await.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_template_override_folder_replaces_a_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("signin.html"),
        "{% extends \"base.html\" %}{% block content %}<p id=\"custom\">Welcome back to {{ brand }}</p>{% endblock %}",
    )
    .unwrap();
    each_backend_with(&server_theme(Some(dir.path())), |app| async move {
        let html = page(&app, "/login").await;
        assert!(
            html.contains("<p id=\"custom\">Welcome back to Acme Corp</p>"),
            "{html}"
        );
        assert!(
            html.contains("alt=\"Acme Corp\""),
            "the built-in base still applies"
        );
        let signup = page(&app, "/signup").await;
        assert!(
            !signup.contains("id=\"custom\""),
            "other templates are the built-in ones"
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_folder_of_templates_applies_to_that_clients_pages_only() {
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("clients").join("shop");
    std::fs::create_dir_all(&shop).unwrap();
    std::fs::write(
        shop.join("signin.html"),
        "{% extends \"base.html\" %}{% block content %}<p id=\"shop-welcome\">Welcome to the {{ brand }} shop</p>{% endblock %}",
    )
    .unwrap();
    each_backend_with(&server_theme(Some(dir.path())), |app| async move {
        register_shop(&app).await;
        register_client(&app, "plain", true).await;

        let html = sign_in_page(&app, "shop").await;
        assert!(
            html.contains("<p id=\"shop-welcome\">Welcome to the Shop shop</p>"),
            "the client's template with the client's theme: {html}"
        );
        assert!(html.contains("alt=\"Shop\""), "the built-in base: {html}");

        let other = sign_in_page(&app, "plain").await;
        assert!(!other.contains("shop-welcome"), "{other}");
        assert!(other.contains("name=\"password\""), "{other}");
        let direct = page(&app, "/login").await;
        assert!(!direct.contains("shop-welcome"), "{direct}");
    })
    .await;
}

#[tokio::test]
async fn an_invalid_client_theme_is_refused_with_a_problem_per_field() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let body = problem(
            api.post(
                "/clients",
                &json!({
                    "id": "shop",
                    "name": "Shop",
                    "theme": {
                        "primary": "blue",
                        "logo_url": "javascript:alert(1)",
                        "css": "</style><script>",
                        "brand": 7,
                        "font": "serif"
                    }
                }),
            )
            .await,
            400,
        )
        .await;
        let fields = body["fields"].as_object().unwrap();
        for (key, code) in [
            ("theme.brand", "invalid_type"),
            ("theme.font", "unknown_field"),
        ] {
            assert_eq!(fields[key][0]["code"], code, "{key} in {fields:?}");
        }
        // Values are checked once the shape is right.
        let body = problem(
            api.post(
                "/clients",
                &json!({
                    "id": "shop",
                    "name": "Shop",
                    "theme": {"primary": "blue", "logo_url": "javascript:alert(1)", "css": "</style>"}
                }),
            )
            .await,
            400,
        )
        .await;
        let fields = body["fields"].as_object().unwrap();
        for (key, code) in [
            ("theme.primary", "invalid_colour"),
            ("theme.logo_url", "invalid_url"),
            ("theme.css", "forbidden_text"),
        ] {
            assert_eq!(fields[key][0]["code"], code, "{key} in {fields:?}");
        }
        problem(
            api.post(
                "/clients",
                &json!({"id": "shop", "name": "Shop", "theme": "dark"}),
            )
            .await,
            400,
        )
        .await;

        let created = api
            .post(
                "/clients",
                &json!({"id": "shop", "name": "Shop", "theme": {"primary": "#abc", "brand": null},
                        "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["theme"], json!({"primary": "#abc"}));
        let body = problem(
            api.put(
                "/clients/shop",
                &json!({"name": "Shop", "theme": {"surface": "#ggg"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["fields"]["theme.surface"][0]["code"], "invalid_colour");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_theme() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let theme = &doc["components"]["schemas"]["Theme"];
        assert_eq!(theme["type"], "object", "{theme}");
        assert_eq!(theme["additionalProperties"], false, "{theme}");
        for key in [
            "brand",
            "logo_url",
            "primary",
            "primary_text",
            "background",
            "surface",
            "text",
            "css",
        ] {
            assert!(theme["properties"][key].is_object(), "{key} in {theme}");
        }
        let schemas = doc["components"]["schemas"].to_string();
        assert!(schemas.contains("#/components/schemas/Theme"), "{schemas}");
    })
    .await;
}

#[tokio::test]
async fn an_invalid_theme_configuration_stops_the_start_with_the_key() {
    let file =
        Layer::from_toml(Path::new("accrete.toml"), "[theme]\nprimary = \"teal\"\n").unwrap();
    let err = Config::resolve(Layer::default(), Layer::default(), file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "theme.primary: `teal` is not a CSS hex colour: use #rgb or #rrggbb"
    );

    let err = Layer::from_toml(Path::new("accrete.toml"), "[theme]\ncolor = \"#fff\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("accrete.toml: line 2: unknown field `color`"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = Layer::from_toml(
        Path::new("accrete.toml"),
        &format!(
            "[theme]\ntemplates = {:?}\n",
            dir.path().join("missing").display().to_string()
        ),
    )
    .unwrap();
    let flags = Layer {
        master_key: Some(TEST_MASTER_KEY.to_owned()),
        ..Layer::default()
    };
    let config = Arc::new(Config::resolve(flags, Layer::default(), file).unwrap());
    let (store, _guard) = accrete_store::testing::sqlite_store().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = Server::new(listener, config, store)
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("theme.templates "), "{err}");
    assert!(err.contains("missing"), "{err}");
}

#[tokio::test]
async fn the_account_center_wears_the_theme_of_the_application_it_returns_to() {
    each_backend(|app| async move {
        register_shop(&app).await;
        let browser = crate::rp::sign_up(&app, "ann@example.com").await;
        let plain = page(&browser, "/account/security").await;
        assert!(theme_css(&plain).is_none(), "{plain}");
        let path = format!(
            "/account/security?return_to={}",
            crate::rp::escape(REDIRECT)
        );
        let themed = page(&browser, &path).await;
        let css = theme_css(&themed).expect("the shop's stylesheet");
        assert!(css.starts_with("/assets/theme/shop"), "{css}");
        assert!(themed.contains("· Shop</title>"), "{themed}");
        assert!(themed.contains("Back to The shop app"), "{themed}");
    })
    .await;
}
