//! The pages in a real browser: starts the service (the built binary, embedded store, sandbox
//! mode, business clock on the manual's renewal day) on a free port, adds staff tokens with the
//! CLI, and runs the Playwright tests of `tests/ui_browser` against it with Debian's Chromium.
//! Missing Chromium or Playwright fails the test with how to install them: never skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "install them with: apt-get install -y chromium && \
    python3 -m pip install -r tests/ui_browser/requirements.txt";

/// The service, stopped when dropped.
struct Service {
    child: Child,
    base: String,
    data_dir: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
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

fn start(data_dir: &Path) -> Service {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = binary()
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("PERMIT_LEDGER_DATA_DIR", data_dir)
        .env("PERMIT_LEDGER_BIND", &addr)
        .env("PERMIT_LEDGER_MODE", "sandbox")
        .env("PERMIT_LEDGER_SANDBOX_NOW", "2022-05-20T02:00:00Z")
        .env("PERMIT_LEDGER_OFFICE_PHONE", "010-82805604")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the service");
    let service = Service {
        child,
        base: format!("http://{addr}"),
        data_dir: data_dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthy(&addr) {
        assert!(Instant::now() < deadline, "the service did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    service
}

fn staff(data_dir: &Path, role: &str, name: &str) -> String {
    let out = binary()
        .args(["staff", "add", "--role", role, "--name", name])
        .env_remove("DATABASE_URL")
        .env("PERMIT_LEDGER_DATA_DIR", data_dir)
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
fn both_manual_paths_work_in_a_real_browser() {
    tools_present();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data_dir = std::env::temp_dir().join(format!("pl-ui-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let service = start(&data_dir);
    let admin = staff(&data_dir, "admin", "李老师");
    let reviewer = staff(&data_dir, "reviewer", "张老师");
    // Screenshots go where UI_SCREENSHOTS says (docs/ui to refresh the docs), else a temp dir.
    let shots = std::env::var("UI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| data_dir.join("screenshots"));
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
