//! The node's web page in a real browser: Debian's Chromium, headless,
//! driven over the DevTools protocol, against real nodes. An officer signs
//! in, reads the federation, finds a partner's denial, screens an
//! application and consults the denying state, whose officer replies from
//! its own node's page; an observer audits every log and sees headers
//! without contents; the page refuses a visitor without a token and a form
//! without its CSRF token, and speaks English, Spanish and Portuguese.
//!
//! Chromium must be installed (`/usr/bin/chromium`, or the path in
//! `CONCORD_CHROMIUM`): without it these tests fail, saying so. On a
//! failure the page in the browser is saved as a screenshot, whose path is
//! printed.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_scenarios::process::Concord;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use headless_chrome::protocol::cdp::Page::{
    AddScriptToEvaluateOnNewDocument, CaptureScreenshotFormatOption,
};
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

/// How long the page may take to show what a step expects.
const PAGE_WAIT: Duration = Duration::from_secs(30);

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn sample_denial(name: &str) -> Vec<u8> {
    records::denials()
        .into_iter()
        .find(|r| r.name == name)
        .expect("the sample")
        .stated_by("MX")
}

fn application() -> Vec<u8> {
    std::fs::read(records::dir().join("applications/co-2026-thiodiglycol.json"))
        .expect("the sample application")
}

/// A token of `id`'s node named `name` with `scopes`: its secret.
fn token(net: &Testnet, id: &str, name: &str, scopes: &str) -> String {
    let made = net
        .cli(
            id,
            [
                "--json", "token", "create", "--name", name, "--scope", scopes,
            ],
        )
        .ok()
        .json();
    made["secret"].as_str().expect("a secret").to_owned()
}

fn wait_ready(net: &Testnet, id: &str) {
    let api = net.api(id).with_token(None);
    wait_until(Duration::from_secs(60), &format!("{id} is ready"), || {
        api.try_get("/v1/health/ready")
            .is_ok_and(|r| r.status == 200)
    });
}

/// One headless Chromium with one tab, in a temporary profile; on a
/// failure it saves the page's screenshot there and keeps the directory.
struct Page {
    tab: Arc<Tab>,
    // Dropped after `tab`: the browser process ends with it.
    _browser: Browser,
    dir: Option<tempfile::TempDir>,
}

impl Page {
    fn launch() -> Page {
        let chromium = std::env::var_os("CONCORD_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        assert!(
            chromium.exists(),
            "Chromium is not installed at {}: the web tests drive it. Install it with \
             `apt-get install -y chromium chromium-driver` (.ci/run does) or set \
             CONCORD_CHROMIUM to its path",
            chromium.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("concord-web-")
            .tempdir()
            .expect("a temporary directory");
        let profile = dir.path().join("profile");
        let options = LaunchOptions::default_builder()
            .path(Some(chromium))
            .headless(true)
            .sandbox(false)
            .user_data_dir(Some(profile))
            .window_size(Some((1280, 1000)))
            .idle_browser_timeout(Duration::from_secs(300))
            .args(
                [
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--lang=en-US",
                ]
                .iter()
                .map(OsStr::new)
                .collect(),
            )
            .build()
            .expect("launch options");
        let browser = Browser::new(options).unwrap_or_else(|e| panic!("starting Chromium: {e}"));
        let tab = browser.new_tab().expect("a tab");
        tab.set_default_timeout(PAGE_WAIT);
        Page {
            tab,
            _browser: browser,
            dir: Some(dir),
        }
    }

    fn open(&self, url: &str) {
        self.tab
            .navigate_to(url)
            .and_then(|tab| tab.wait_until_navigated())
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    fn url(&self) -> String {
        self.tab.get_url()
    }

    fn eval(&self, script: &str) -> Value {
        self.tab
            .evaluate(script, false)
            .unwrap_or_else(|e| panic!("running {script}: {e}"))
            .value
            .unwrap_or(Value::Null)
    }

    /// What the page shows, as a reader sees it.
    fn text(&self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Sets the field at `selector` to `value` (any script: the page's
    /// own names are in Spanish and Arabic too).
    fn fill(&self, selector: &str, value: &str) {
        let script = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; return true; }})()",
            serde_json::to_string(selector).expect("JSON"),
            serde_json::to_string(value).expect("JSON"),
        );
        assert_eq!(
            self.eval(&script),
            Value::Bool(true),
            "no field {selector} on {}",
            self.url()
        );
    }

    fn click(&self, selector: &str) {
        self.tab
            .wait_for_element(selector)
            .and_then(|element| element.click().map(|_| ()))
            .unwrap_or_else(|e| panic!("clicking {selector} on {}: {e}", self.url()));
    }

    /// Waits until the page at a URL containing `path` shows `expected`.
    fn wait_for(&self, path: &str, expected: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if self.url().contains(path) && self.text().contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {PAGE_WAIT:?} for {expected:?} at a URL with {path:?}; the page at {} shows:\n{}",
                self.url(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens `url` again until it shows `expected`: for what arrives from
    /// other nodes.
    fn reload_until(&self, url: &str, expected: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            self.open(url);
            if self.text().contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not show {expected:?} within {limit:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn sign_in(&self, base: &str, secret: &str) {
        self.open(&format!("{base}/"));
        self.fill("#token", secret);
        self.click("form.signin button");
        // The federation page's heading in English, the browser's language.
        self.wait_for("/federation", "Members and observers");
    }

    /// The cookie header the browser sends to the page's node, for a
    /// request made beside it.
    fn cookie_header(&self) -> String {
        self.tab
            .get_cookies()
            .expect("cookies")
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Some(dir) = self.dir.take() else { return };
        let dir = dir.keep();
        let shot = dir.join("failure.png");
        match self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        {
            Ok(png) if std::fs::write(&shot, &png).is_ok() => {
                eprintln!(
                    "screenshot of the page at {}: {}",
                    self.tab.get_url(),
                    shot.display()
                );
            }
            _ => eprintln!("no screenshot could be taken of {}", self.tab.get_url()),
        }
    }
}

#[test]
fn officers_find_screen_and_consult_and_an_observer_sees_headers_only() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co"], &["un1540:US"]).sync_interval_ms(300),
    );
    for id in ["mx", "co", "un1540"] {
        net.start(id);
    }
    wait_ready(&net, "mx");
    let mx_api = net.api("mx");
    mx_api.publish("denial", &sample_denial("mx-2025-thiodiglycol.json"));
    let amendment = std::fs::read(records::dir().join("amendments/mx-2025-thiodiglycol.json"))
        .expect("the sample amendment");
    mx_api.publish("denial.amend?refers_to=0", &amendment);
    let co_desk = token(&net, "co", "mesa de licencias", "read,screen,publish");
    let mx_desk = token(&net, "mx", "dirección de comercio exterior", "read,publish");
    let observer = token(&net, "un1540", "expertos 1540", "read");
    let co = format!("http://{}", net.api_address("co"));
    let mx = format!("http://{}", net.api_address("mx"));
    let un = format!("http://{}", net.api_address("un1540"));
    // co screens against checkpoints: wait until its copy of mx's log has
    // one covering the denial.
    let co_api = net.api("co");
    wait_until(Duration::from_secs(60), "co screens mx's denial", || {
        co_api
            .try_post("/v1/screen", &application())
            .is_ok_and(|r| {
                r.status == 200 && r.json()["hits"].as_array().is_some_and(|h| !h.is_empty())
            })
    });

    let page = Page::launch();
    page.sign_in(&co, &co_desk);
    let federation = page.text();
    for expected in ["mx", "un1540", &net.origin_of("mx"), "mesa de licencias"] {
        assert!(
            federation.contains(expected),
            "{expected:?} in\n{federation}"
        );
    }

    // A denial mx publishes now appears on co's page.
    page.open(&format!("{co}/denials"));
    assert!(
        page.text().contains("SE-DGCE-DEN-2025-0031"),
        "{}",
        page.text()
    );
    mx_api.publish(
        "denial?visibility=members",
        &sample_denial("mx-2025-five-axis.json"),
    );
    page.reload_until(
        &format!("{co}/denials"),
        "SE-DGCE-DEN-2025-0077",
        Duration::from_secs(60),
    );

    // Searched by a party's name without its accents, the denial is found;
    // its page shows the names as written, and its proof.
    page.fill("#party", "Quimica Andina");
    page.fill("#kind", "denial");
    page.click("form.filters button");
    page.wait_for("party=Quimica", "Results (1)");
    // Switching the language keeps the search: its filters in the form,
    // its results, a name with accents as typed.
    let field = |id: &str| page.eval(&format!("document.querySelector('#{id}').value"));
    page.click("a[hreflang=es]");
    page.wait_for("lang=es", "Resultados (1)");
    assert_eq!(field("party"), "Quimica Andina");
    assert_eq!(field("kind"), "denial");
    page.fill("#party", "Química Andina");
    page.fill("#state", "MX");
    page.click("form.filters button");
    page.wait_for("party=Qu%C3%ADmica", "Resultados (1)");
    page.click("a[hreflang=pt]");
    page.wait_for("lang=pt", "Nome ou apelido de uma parte");
    assert!(page.text().contains("Resultados (1)"), "{}", page.text());
    assert_eq!(
        [field("party"), field("state"), field("kind")],
        ["Química Andina", "MX", "denial"]
    );
    page.click("a[hreflang=en]");
    page.wait_for("lang=en", "Results (1)");
    assert_eq!(field("party"), "Química Andina");
    page.click("a[href='/denials/mx/0']");
    page.wait_for("/denials/mx/0", "Proof of inclusion");
    let denial = page.text();
    for expected in [
        "SE-DGCE-DEN-2025-0031",
        "Química Andina del Pacífico S.A.C.",
        "Secretaría de Economía",
        "amended",
        "Current version, as amended by mx#1",
        "مختبر ليفانت الصيدلاني",
        "ООО «Каспийская логистика»",
        "History",
        "Tree size",
    ] {
        assert!(denial.contains(expected), "{expected:?} in\n{denial}");
    }

    // Screening from the form: the hit, explained, one click from its
    // denial; the result downloads as the verifiable JSON. The form is
    // filled in Spanish first.
    page.open(&format!("{co}/screening?lang=es"));
    page.fill("#reference", "MINCIT-DCE-SOL-2026-0187");
    page.fill("#destination", "PE");
    page.fill("#p0_name", "Quimica Andina del Pacifico S.A.C.");
    page.fill("#p0_aliases", "QUIMANDPAC");
    page.fill("#p0_country", "PE");
    page.fill("#p1_name", "مختبر ليفانت الصيدلاني");
    page.fill("#p1_country", "LB");
    page.fill("#i0_control_entries", "1C350.1");
    page.fill("#i0_hs_codes", "2930.90");
    // A destination that is no country: the form comes back saying why in
    // Spanish, the core's detail beneath, with what was typed; in English
    // too, the form kept.
    page.fill("#destination", "Perú");
    page.click("form.screening button[type=submit]");
    page.wait_for("/screening", "La solicitud no se cotejó.");
    let refused = page.text();
    for expected in [
        "Falta un dato o un dato no es válido",
        "Detalle técnico (en inglés):",
    ] {
        assert!(refused.contains(expected), "{expected:?} in\n{refused}");
    }
    assert_eq!(field("p1_name"), "مختبر ليفانت الصيدلاني");
    page.click("a[hreflang=en]");
    page.wait_for("lang=en", "The application was not screened.");
    assert!(
        page.text().contains("A value is missing or not valid"),
        "{}",
        page.text()
    );
    assert_eq!(
        [field("destination"), field("p1_name")],
        ["Perú", "مختبر ليفانت الصيدلاني"]
    );
    page.fill("#destination", "PE");
    page.click("form.screening button[type=submit]");
    page.wait_for("/screening/results/", "Denials met (1)");
    let result_url = page.url();
    let result = page.text();
    for expected in [
        "Denial mx#0",
        "Names that met, and how",
        "Quimica Andina del Pacifico S.A.C.",
        "Química Andina del Pacífico S.A.C.",
        "Adjustments",
    ] {
        assert!(result.contains(expected), "{expected:?} in\n{result}");
    }
    let href = page.eval("document.querySelector('a[download]').getAttribute('href')");
    let href = href.as_str().expect("a download link");
    let mut download = ureq::get(&format!("{co}{href}"))
        .header("Cookie", &page.cookie_header())
        .call()
        .expect("the download");
    let disposition = download
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let saved: Value =
        serde_json::from_str(&download.body_mut().read_to_string().expect("a body")).expect("JSON");
    assert_eq!(saved["format"], "concord-screening/v1");
    assert_eq!(saved["hits"][0]["entry"]["index"], 0);
    assert_eq!(saved["hits"][0]["current"]["index"], 1);
    assert_eq!(
        saved["application"]["parties"][1]["name"],
        "مختبر ليفانت الصيدلاني"
    );
    page.click("section.hit h3 a");
    page.wait_for("/denials/mx/0", "SE-DGCE-DEN-2025-0031");

    // From the hit, a consultation: published on co's log, it arrives on
    // mx's page, whose officer replies; co sees the answer.
    page.open(&result_url);
    let question = "¿Sigue vigente la denegación para este consignatario?";
    page.fill("#question-1", question);
    page.click("form.consult button");
    page.wait_for("/consultations", "Published as co#");
    assert!(page.text().contains("Outgoing (1)"), "{}", page.text());

    page.sign_in(&mx, &mx_desk);
    page.reload_until(
        &format!("{mx}/consultations"),
        question,
        Duration::from_secs(60),
    );
    assert!(page.text().contains("Incoming (1)"), "{}", page.text());
    page.fill("#answer-1", "object");
    page.fill("#comment-1", "Sí: la denegación sigue vigente.");
    page.click("form.reply button");
    page.wait_for("/consultations", "Published as mx#");
    page.reload_until(
        &format!("{co}/consultations"),
        "Sí: la denegación sigue vigente.",
        Duration::from_secs(60),
    );
    assert!(page.text().contains("answered"), "{}", page.text());

    // The observer reads the federation, and of a denial for members only
    // its header.
    page.sign_in(&un, &observer);
    assert!(
        page.text().contains("This node is an observer"),
        "{}",
        page.text()
    );
    page.click("a[href='/federation/audit']");
    page.wait_for("/federation/audit", "Findings (0)");
    assert!(page.text().contains("clean"), "{}", page.text());
    page.reload_until(
        &format!("{un}/denials/mx/2"),
        "Signed header",
        Duration::from_secs(60),
    );
    let header_only = page.text();
    assert!(
        header_only.contains("does not show the contents"),
        "{header_only}"
    );
    assert!(
        !header_only.contains("SE-DGCE-DEN-2025-0077"),
        "{header_only}"
    );
}

#[test]
fn the_page_refuses_strangers_and_forms_without_csrf_and_speaks_three_languages() {
    let mut net = Testnet::create_with(&concord(), &TestnetSpec::new(&["mx"], &[]));
    net.start("mx");
    wait_ready(&net, "mx");
    let mx = format!("http://{}", net.api_address("mx"));
    let admin = token(&net, "mx", "operador", "read,admin");

    // The browser's language decides the first page.
    for (accept, expected) in [
        ("pt-BR,pt;q=0.9", "<html lang=\"pt\">"),
        ("es-MX,es;q=0.9,en;q=0.5", "<html lang=\"es\">"),
    ] {
        let body = ureq::get(&format!("{mx}/"))
            .header("Accept-Language", accept)
            .call()
            .expect("the sign-in page")
            .body_mut()
            .read_to_string()
            .expect("a body");
        assert!(body.contains(expected), "{accept}: {body}");
    }

    // Without a session, a page sends the visitor to sign in; a wrong
    // token signs in nobody.
    let page = Page::launch();
    page.open(&format!("{mx}/federation"));
    page.wait_for("why=needed", "Sign in to see this page.");
    page.fill("#token", &"0".repeat(64));
    page.click("form.signin button");
    page.wait_for("/signin", "This token is wrong or revoked.");

    // The operator makes a token; its secret is shown once.
    page.sign_in(&mx, &admin);
    page.open(&format!("{mx}/operator"));
    page.fill("#token-name", "mesa de licencias");
    page.click("input[name=scope][value=read]");
    page.click("form.create-token button");
    page.wait_for("/operator/tokens", "Copy the secret now");
    let secret = page.eval("document.querySelector('#secret').value");
    let secret = secret.as_str().expect("the secret").to_owned();
    assert_eq!(secret.len(), 64);

    // A form without its CSRF token changes nothing and says why.
    page.open(&format!("{mx}/operator"));
    page.eval("document.querySelector('form.create-token input[name=csrf]').remove()");
    page.fill("#token-name", "sin csrf");
    page.click("input[name=scope][value=read]");
    page.click("form.create-token button");
    page.wait_for("/operator/tokens", "Form refused");
    assert!(
        page.text().contains("nothing was changed"),
        "{}",
        page.text()
    );
    let tokens = net.cli("mx", ["--json", "token", "list"]).ok().json();
    assert!(
        !tokens.to_string().contains("sin csrf"),
        "a token was made without CSRF: {tokens}"
    );

    // A token without a scope: the node's refusal, said in Portuguese
    // above its own detail.
    page.open(&format!("{mx}/operator?lang=pt"));
    page.fill("#token-name", "sem escopo");
    page.click("form.create-token button");
    page.wait_for("/operator/tokens", "Algo deu errado");
    let refused = page.text();
    for expected in [
        "Falta um dado ou um dado não é válido",
        "Detalhe técnico (em inglês): a token needs at least one scope",
    ] {
        assert!(refused.contains(expected), "{expected:?} in\n{refused}");
    }
    page.open(&format!("{mx}/operator?lang=en"));

    // A read token may browse but not screen; the page says which scope
    // it lacks.
    page.click("form.signout button");
    page.wait_for("why=signed_out", "You signed out.");
    page.sign_in(&mx, &secret);
    page.open(&format!("{mx}/screening"));
    page.wait_for("/screening", "Not allowed");
    assert!(page.text().contains("screen"), "{}", page.text());

    // Spanish, remembered across pages, then Portuguese.
    page.click("a[hreflang=es]");
    page.wait_for("lang=es", "Federación");
    page.open(&format!("{mx}/denials"));
    page.wait_for("/denials", "Nombre o alias de una parte");
    assert_eq!(page.eval("document.documentElement.lang"), "es");
    page.click("a[hreflang=pt]");
    page.wait_for("lang=pt", "Nome ou apelido de uma parte");
    assert_eq!(page.eval("document.documentElement.lang"), "pt");

    // Revoking the token ends its session at the next page.
    net.cli("mx", ["token", "revoke", "mesa de licencias"]).ok();
    page.open(&format!("{mx}/denials"));
    page.wait_for("why=ended", "Sua sessão terminou");
}

/// The API's reference page (`/v1/docs/`) renders every operation of the
/// node's OpenAPI document and opens one with its record schemas, from the
/// node's own files and under its CSP: nothing refused, nothing fetched
/// from elsewhere.
#[test]
fn the_api_reference_renders_every_operation_under_its_csp() {
    let mut net = Testnet::create(&concord(), &["mx"], &[]);
    net.start("mx");
    wait_ready(&net, "mx");
    let api = net.api("mx").with_token(None);
    let document = api.get("/v1/openapi.json").json();
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().expect("a path item").len())
        .sum();
    let base = format!("http://{}", api.address());

    let page = Page::launch();
    // Before the page's own scripts run, so that no refusal goes unseen.
    page.tab
        .call_method(AddScriptToEvaluateOnNewDocument {
            source: "window.refused = []; document.addEventListener('securitypolicyviolation', e => window.refused.push(e.violatedDirective + ' ' + e.blockedURI));".to_owned(),
            world_name: None,
            include_command_line_api: None,
            run_immediately: None,
        })
        .expect("a script before the page's");
    page.open(&format!("{base}/v1/docs/"));
    wait_until(PAGE_WAIT, "every operation shown", || {
        page.eval("document.querySelectorAll('.opblock').length")
            .as_u64()
            == Some(operations as u64)
    });
    page.click("#operations-records-publish_record .opblock-summary-control");
    page.wait_for("/v1/docs/", "refuse_duplicate");
    page.wait_for("/v1/docs/", "Request body");

    // Objects come back from the page as JSON text.
    let json = |script: &str| -> Value {
        let text = page.eval(&format!("JSON.stringify({script})"));
        serde_json::from_str(text.as_str().expect("JSON text")).expect("JSON")
    };
    assert_eq!(json("window.refused"), serde_json::json!([]));
    let fetched = json("performance.getEntriesByType('resource').map(e => e.name)");
    let fetched = fetched.as_array().expect("the resources fetched");
    assert!(fetched.len() >= 4, "{fetched:?}");
    for url in fetched {
        let url = url.as_str().expect("a URL");
        assert!(url.starts_with(&format!("{base}/")), "{url} is the node's");
    }
}
