//! The HTML report: generated for a small sweep with a failed trial, parsed
//! as XML, and (where Chromium is installed) rendered to a non-blank screenshot;
//! and for a sweep with a test split, its ties, validation-vs-test gaps and
//! data split checked against leaderboard.csv and splits.json.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{SpecBuilder, Tool, read_csv, skip, sweep, sweep_env};

/// A random search of 6 trials × 5 epochs where trial 2 fails; returns the report's path.
fn small_report(dir: &Path) -> PathBuf {
    SpecBuilder::new("seen")
        .method("random")
        .trials(6)
        .seed(4)
        .data_file("breast_cancer.csv")
        .epochs(5)
        .distribution("lr", "log_uniform_values", 0.0005, 0.05)
        .values("hidden", [16, 32])
        .values("optimizer", ["adam", "sgd"])
        .write_as(dir, "s.toml");
    let out = sweep_env(dir, &["run", "s.toml"], &[("SWEEP_FAIL_TRIALS", "2")]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("report:      results/seen/report.html"));
    dir.join("results/seen/report.html")
}

#[test]
fn the_report_is_one_well_formed_file_with_plots_and_the_leaderboard() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_report(tmp.path());
    let html = fs::read_to_string(&path).unwrap();
    assert!(!html.contains("<script src") && !html.contains("<link "), "self-contained");

    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
    )
    .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    let fetched = external_references(&doc);
    assert!(fetched.is_empty(), "the report fetches nothing, but refers to {fetched:?}");
    let svgs: Vec<_> = doc.descendants().filter(|n| n.tag_name().name() == "svg").collect();
    // 3 trials × (losses, mcc) + 3 parameters + best-so-far.
    assert_eq!(svgs.len(), 3 * 2 + 3 + 1, "plots");
    let texts: Vec<&str> =
        doc.descendants().filter(|n| n.tag_name().name() == "text").filter_map(|n| n.text()).collect();
    for label in ["epoch", "cross-entropy", "best mcc", "hidden", "optimizer", "lr (log)", "trial index (plan order)"] {
        assert!(texts.iter().any(|t| t.contains(label)), "axis label {label:?} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t.trim().starts_with("best epoch ")), "best epoch marked");

    let board = doc.descendants().find(|n| n.has_tag_name("table") && n.attribute("class") == Some("board")).unwrap();
    let rows: Vec<_> = board
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.parent().is_some_and(|p| p.has_tag_name("tbody")))
        .collect();
    let trial_rows = rows.iter().filter(|r| r.attribute("class") != Some("msg")).count();
    assert_eq!(trial_rows, 6);
    let failed = rows.iter().find(|r| r.attribute("class") == Some("failed")).expect("a failed row");
    assert!(failed.descendants().any(|n| n.text() == Some("failed")));
    assert!(html.contains("injected failure for trial index 2"), "its message is shown");

    // `sweep report` rewrites it from the same records: the same page, byte for byte.
    fs::write(&path, "stale").unwrap();
    let out = sweep(tmp.path(), &["report", "results/seen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rewritten = fs::read_to_string(&path).unwrap();
    if rewritten != html {
        let at = rewritten.bytes().zip(html.bytes()).take_while(|(a, b)| a == b).count();
        let around = |s: &str| s.get(at.saturating_sub(80)..(at + 80).min(s.len())).unwrap_or("").to_string();
        panic!("the rewritten report differs at byte {at}:\n{}\nvs\n{}", around(&rewritten), around(&html));
    }
    let trials_row = |incomplete: usize| {
        format!(
            "6 planned: <span class=\"ok\">5 completed</span>, 0 pruned, <span class=\"bad\">1 failed</span>, \
             <span class=\"bad\">0 diverged</span>, {incomplete} incomplete, 0 not started"
        )
    };
    assert!(html.contains(&trials_row(0)), "the summary counts the trials");

    // A trial folder without a record (its process died) is counted as incomplete, the same
    // whether the report is written by the aggregation or on its own.
    fs::create_dir(tmp.path().join("results/seen/trials/t9999-died")).unwrap();
    let out = sweep(tmp.path(), &["aggregate", "results/seen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after_aggregation = fs::read_to_string(&path).unwrap();
    assert!(after_aggregation.contains(&trials_row(1)), "the aggregation's report counts the incomplete trial");
    let out = sweep(tmp.path(), &["report", "results/seen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read_to_string(&path).unwrap(), after_aggregation);
}

/// Every URL in the page that a browser would fetch from elsewhere: attributes
/// that load or link (`src`, `href`, `xlink:href`, `srcset`, `action`, `data`,
/// `poster`) and CSS `url(...)`/`@import` in style elements and attributes,
/// when absolute (`scheme:`) or protocol-relative (`//host`). Namespace
/// declarations (`xmlns="http://www.w3.org/2000/svg"`) are names, not fetches.
fn external_references(doc: &roxmltree::Document) -> Vec<String> {
    let external = |url: &str| {
        let url = url.trim().trim_matches(|c| c == '"' || c == '\'');
        let lower = url.to_ascii_lowercase();
        let scheme = lower
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)));
        lower.starts_with("//") || matches!(scheme, Some(s) if s != "data" && s != "javascript")
    };
    let css_urls = |css: &str| -> Vec<String> {
        let lower = css.to_ascii_lowercase();
        let mut urls = Vec::new();
        for (at, _) in lower.match_indices("url(") {
            let rest = &css[at + 4..];
            urls.push(rest[..rest.find(')').unwrap_or(rest.len())].to_string());
        }
        for (at, _) in lower.match_indices("@import") {
            let rest = css[at + 7..].trim_start();
            urls.push(rest.split([';', ' ']).next().unwrap_or("").to_string());
        }
        urls
    };
    let mut found = Vec::new();
    for node in doc.descendants() {
        for a in node.attributes() {
            let name = a.name().to_ascii_lowercase();
            let urls: Vec<String> = match name.as_str() {
                "src" | "href" | "action" | "data" | "poster" | "formaction" | "background" => vec![a.value().into()],
                "srcset" => {
                    a.value().split(',').filter_map(|c| c.split_whitespace().next()).map(String::from).collect()
                }
                "style" => css_urls(a.value()),
                _ => Vec::new(),
            };
            found.extend(
                urls.into_iter()
                    .filter(|u| external(u))
                    .map(|u| format!("<{} {}=\"{u}\">", node.tag_name().name(), a.name())),
            );
        }
        if node.has_tag_name("script") {
            let js: String = node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
            for call in ["fetch(", "XMLHttpRequest", "import(", "http://", "https://", "WebSocket", "sendBeacon"] {
                if js.contains(call) {
                    found.push(format!("<script> {call}"));
                }
            }
        }
        if node.has_tag_name("style") {
            let css: String = node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
            found.extend(css_urls(&css).into_iter().filter(|u| external(u)).map(|u| format!("<style> {u}")));
        }
    }
    found
}

#[test]
fn external_references_are_found_wherever_a_page_can_fetch() {
    let page = |body: &str| format!("<html xmlns=\"http://www.w3.org/1999/xhtml\"><body>{body}</body></html>");
    let found = |body: &str| {
        let text = page(body);
        external_references(&roxmltree::Document::parse(&text).unwrap())
    };
    assert!(
        found("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>http://x</text></svg><a href=\"#top\">top</a>")
            .is_empty()
    );
    assert!(found("<img src=\"data:image/png;base64,AAAA\"/>").is_empty());
    for fetches in [
        "<img src=\"https://example.com/x.png\"/>",
        "<img src=\"//cdn.example.com/x.png\"/>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"><image xlink:href=\"http://e.com/i.png\"/></svg>",
        "<div style=\"background: url('http://e.com/b.png')\">x</div>",
        "<style>@import \"https://e.com/s.css\";</style>",
        "<style>body { background: URL(//e.com/b.png) }</style>",
        "<script>fetch('/x')</script>",
    ] {
        assert_eq!(found(fetches).len(), 1, "{fetches}");
    }
}

/// The cells of each body row of the table with `class`, as text.
fn table_rows(doc: &roxmltree::Document, class: &str) -> Vec<Vec<String>> {
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("class") == Some(class))
        .unwrap_or_else(|| panic!("no table {class:?}"));
    table
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.parent().is_some_and(|p| p.has_tag_name("tbody")))
        .map(|tr| {
            tr.children()
                .filter(|c| c.has_tag_name("td"))
                .map(|td| td.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect::<String>())
                .collect()
        })
        .collect()
}

#[test]
fn the_report_shows_ties_the_test_split_and_the_data_split() {
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("held")
        .seed(7)
        .data_file("breast_cancer.csv")
        .data("test_fraction", 0.2)
        .values("lr", [0.003, 0.03])
        .values("hidden", [8, 32])
        .write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results = tmp.path().join("results/held");
    let html = fs::read_to_string(results.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
    )
    .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    let board = read_csv(&results.join("leaderboard.csv"));
    assert_eq!(board.len(), 4);

    // Ties: the sentence, and as many tied rows as leaderboard.csv has.
    assert!(
        html.contains(
            "Tied: the top trial is better in fewer than 95 % of 1000 bootstrap resamples of the validation rows, so \
             the validation data cannot tell these trials apart; pick among them on other grounds (test metrics, size, \
             speed)."
        ),
        "the tie sentence"
    );
    let tied = board[1..].iter().filter(|r| r["tied_with_top"] == "true").count();
    let verb = if tied == 1 { "is" } else { "are" };
    assert!(html.contains(&format!("<b>{tied}</b> of the other 3 completed trials {verb} tied")), "tied count {tied}");
    let tied_rows =
        doc.descendants().filter(|n| n.has_tag_name("tr") && n.attribute("class") == Some("completed tied"));
    assert_eq!(tied_rows.count(), tied);
    let leaderboard = table_rows(&doc, "board");
    let top = &board[0];
    let interval = format!(
        "[{:.4}, {:.4}]",
        top["best_mcc_low"].parse::<f64>().unwrap(),
        top["best_mcc_high"].parse::<f64>().unwrap()
    );
    assert!(leaderboard[0].contains(&interval) && leaderboard[0].iter().any(|c| c == "top"), "{:?}", leaderboard[0]);

    // Validation vs test: the top model's values and gap, as leaderboard.csv has them.
    assert!(html.contains("<h2>Validation vs test</h2>"));
    assert!(html.contains("The test split was seen by nothing that chose"), "why the gap");
    let valid: f64 = top["best_mcc"].parse().unwrap();
    let test: f64 = top["test_mcc"].parse().expect("the top model has a test_mcc");
    let rows = table_rows(&doc, "grid valtest");
    let row = rows.iter().find(|r| r[1] == top["trial_id"]).expect("the top model's row");
    assert_eq!(row[0], "1");
    assert_eq!(row[2], format!("{valid:.4}"));
    assert_eq!(row[3], format!("{test:.4}"));
    assert_eq!(row[4], format!("{:+.4}", valid - test), "gap = valid − test");
    let tested = board.iter().filter(|r| !r["test_mcc"].is_empty()).count();
    assert_eq!(rows.len(), tested, "one row per model evaluated on the test split");

    // Data split: every part of splits.json with its class counts.
    let splits: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(results.join("splits.json")).unwrap()).unwrap();
    let parts = splits["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["train", "valid", "test"]);
    let shown = table_rows(&doc, "grid split");
    assert_eq!(shown.len(), parts.len());
    for (row, part) in shown.iter().zip(parts) {
        let mut expected = vec![part["name"].as_str().unwrap().to_string(), part["rows"].to_string()];
        expected.extend(part["class_counts"].as_array().unwrap().iter().map(|c| c.to_string()));
        assert_eq!(*row, expected);
    }
    for d in splits["duplicates"].as_array().unwrap() {
        let (part, rows, of) = (d["part"].as_str().unwrap(), d["rows"].as_u64().unwrap(), d["of"].as_u64().unwrap());
        let line = if rows > 0 {
            format!("{rows} of {of} {part} rows have features identical")
        } else {
            format!("None of the {of} {part} rows has features identical")
        };
        assert!(html.contains(&line), "{line}");
    }
}

/// Chromium, if installed: $SWEEP_CHROMIUM, else chromium on PATH.
fn chromium() -> Option<PathBuf> {
    let candidates =
        std::env::var_os("SWEEP_CHROMIUM").map(PathBuf::from).into_iter().chain([PathBuf::from("chromium")]);
    candidates.into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        skip(Tool::Chromium, "no chromium (apt-get install chromium, or set SWEEP_CHROMIUM)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let report = small_report(tmp.path());
    let headless = |out: &str| {
        let mut c = Command::new(&chromium);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", tmp.path().join(format!("profile-{out}")).display()))
        .arg(out)
        .arg(format!("file://{}", report.display()));
        c.output().unwrap()
    };

    // The DOM as Chromium built it (after the page's script ran) holds the
    // report's title, every trial of the leaderboard and the failed trial's
    // message: an error page or an empty one would not.
    let dom = headless("--dump-dom");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<title>sweep report: seen</title>"), "not the report: {}", &dom[..dom.len().min(400)]);
    let board = read_csv(&tmp.path().join("results/seen/leaderboard.csv"));
    assert_eq!(board.len(), 6);
    for row in &board {
        assert!(dom.contains(&format!(">{}<", row["trial_id"])), "trial {} not rendered", row["trial_id"]);
    }
    assert!(dom.contains("injected failure for trial index 2"), "the failed trial's message is not rendered");

    let shot = tmp.path().join("shot.png");
    let out = headless(&format!("--screenshot={}", shot.display()));
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let non_white = pixels.iter().filter(|p| p[..3].iter().any(|&c| c < 235)).count();
    assert!(non_white * 50 > pixels.len(), "mostly blank: {non_white} of {} pixels", pixels.len());
    // The report's own colours, painted: the leaderboard's header cells
    // (#f0f3f7, exact: a filled box) and the curves of the training plots
    // (matplotlib's blue and orange, anti-aliased, so near them).
    let exact = |rgb: [u8; 3]| pixels.iter().filter(|p| p[..3] == rgb).count();
    let near = |rgb: [u8; 3]| {
        pixels.iter().filter(|p| p[..3].iter().zip(rgb).all(|(&a, b)| (a as i32 - b as i32).abs() <= 24)).count()
    };
    let header = exact([0xf0, 0xf3, 0xf7]);
    let (blue, orange) = (near([31, 119, 180]), near([255, 127, 14]));
    assert!(header > 2000, "the leaderboard's header is not painted: {header} pixels of #f0f3f7");
    assert!(blue > 300 && orange > 300, "the training curves are not painted: {blue} blue, {orange} orange pixels");
}
