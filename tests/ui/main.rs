//! The pages in a real browser: starts the service (the built binary in sandbox mode, business
//! clock on the manual's renewal day) on a free port, on the embedded store and on a fresh
//! PostgreSQL database, adds staff tokens with the CLI, and runs the Playwright tests of
//! `tests/ui_browser` against it with Debian's Chromium. Missing Chromium or Playwright fails
//! the test with how to install them: never skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One browser run at a time: the machine's cores are few and the tests wait on the pages.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "install them with: apt-get install -y chromium && \
    python3 -m pip install -r tests/ui_browser/requirements.txt";

/// The service, stopped when dropped (and its PostgreSQL database dropped, if it had one).
struct Service {
    child: Child,
    base: String,
    data_dir: PathBuf,
    database: Option<Database>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(db) = self.database.take() {
            db.drop_it();
        }
    }
}

/// A fresh PostgreSQL database on `TEST_DATABASE_URL`'s server, named as the API tests' are
/// (`pl_test_…`, so `.ci/run` clears one an interrupted run left).
struct Database {
    url: String,
    name: String,
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn on_server(sql: String) {
    use sqlx::{Connection, Executor};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut conn = sqlx::PgConnection::connect(&server_url())
            .await
            .expect("PostgreSQL must be reachable at TEST_DATABASE_URL");
        conn.execute(sql.as_str())
            .await
            .expect("create or drop the database");
    });
}

impl Database {
    fn fresh() -> Self {
        let name = format!("pl_test_ui_{}", uuid::Uuid::new_v4().simple());
        on_server(format!(r#"CREATE DATABASE "{name}""#));
        let server = server_url();
        let base = server.rsplit_once('/').expect("url has a database").0;
        Database {
            url: format!("{base}/{name}"),
            name,
        }
    }

    fn drop_it(self) {
        on_server(format!(
            r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
            self.name
        ));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The binary on the test's store: `database` or else the embedded store in `data_dir`.
fn binary(data_dir: &Path, database: Option<&Database>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_permit-ledger"));
    cmd.env("PERMIT_LEDGER_DATA_DIR", data_dir);
    match database {
        Some(db) => cmd.env("DATABASE_URL", &db.url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd
}

/// Whether `GET /healthz` answers 200.
fn healthy(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn start(data_dir: &Path, database: Option<Database>) -> Service {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = binary(data_dir, database.as_ref())
        .arg("serve")
        .env("PERMIT_LEDGER_BIND", &addr)
        .env("PERMIT_LEDGER_MODE", "sandbox")
        .env("PERMIT_LEDGER_SANDBOX_NOW", "2022-05-20T02:00:00Z")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the service");
    let service = Service {
        child,
        base: format!("http://{addr}"),
        data_dir: data_dir.to_path_buf(),
        database,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthy(&addr) {
        assert!(Instant::now() < deadline, "the service did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    service
}

fn staff(service: &Service, role: &str, name: &str) -> String {
    let out = binary(&service.data_dir, service.database.as_ref())
        .args(["staff", "add", "--role", role, "--name", name])
        .env("RUST_LOG", "error")
        .output()
        .expect("permit-ledger staff add");
    assert!(out.status.success(), "staff add: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn tools_present() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is missing at {CHROMIUM}; {INSTALL}"
    );
    let probe = Command::new("python3")
        .args(["-c", "import playwright, pytest"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "python3 with playwright and pytest is missing ({probe:?}); {INSTALL}"
    );
}

#[test]
fn both_manual_paths_work_in_a_real_browser_on_the_embedded_store() {
    browser_tests(None);
}

#[test]
fn both_manual_paths_work_in_a_real_browser_on_postgres() {
    browser_tests(Some(Database::fresh()));
}

fn browser_tests(database: Option<Database>) {
    tools_present();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let store = if database.is_some() {
        "postgres"
    } else {
        "embedded"
    };
    let data_dir = std::env::temp_dir().join(format!("pl-ui-{}-{store}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let service = start(&data_dir, database);
    let admin = staff(&service, "admin", "李老师");
    let reviewer = staff(&service, "reviewer", "张老师");
    // Screenshots go where UI_SCREENSHOTS says (docs/ui to refresh the docs; the embedded
    // store's run writes them), else a temp dir.
    let shots = match std::env::var("UI_SCREENSHOTS") {
        Ok(dir) if store == "embedded" => PathBuf::from(dir),
        _ => data_dir.join("screenshots"),
    };
    let started = Instant::now();
    let out = Command::new("python3")
        .args([
            "-m",
            "pytest",
            "tests/ui_browser",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(root)
        .env("PL_BASE_URL", &service.base)
        .env("PL_ADMIN_TOKEN", &admin)
        .env("PL_REVIEWER_TOKEN", &reviewer)
        .env("PL_CHROMIUM", CHROMIUM)
        .env("UI_SCREENSHOTS", &shots)
        .output()
        .expect("run python3 -m pytest");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    println!(
        "browser tests took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "the browser tests failed: {:?}",
        out.status
    );
}
