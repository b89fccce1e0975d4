use aggregates::metadata::{Actor, EventMetadata, Role};
use clap::Parser;
use permit_ledger::app::given_up;
use permit_ledger::app::staff;
use permit_ledger::cli::{Cli, Command, OutboxCommand, ProjectionsCommand, StaffCommand};
use permit_ledger::ledger::Ledger;
use permit_ledger::read_side::ReadSide;
use permit_ledger::services::{Services, StartError};
use permit_ledger::startup::{shutdown_signal, Application};
use permit_ledger::store::{open, sqlite_path, Backend, Store};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    permit_ledger::telemetry::init();
    let cli = Cli::parse();
    if let Some(Command::Audit(command)) = cli.command {
        // Exit codes of their own (0 verified, 1 problems, 2 failed); `verify --file` needs no
        // database.
        return permit_ledger::audit::cli::run(command, &cli.store.config(), cli.serve.mode).await;
    }
    if let Some(Command::Reconcile(args)) = &cli.command {
        // Exit codes of their own (0 agree, 1 mismatches, 2 could not run).
        return permit_ledger::reconcile::cli::run(args, &cli.store.config(), cli.serve.mode).await;
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Settings that are missing or unreadable: exit 2 (api.md § Production mode).
            match e.downcast_ref::<StartError>() {
                Some(StartError::Settings(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Bench(args)) = &cli.command {
        // The bench creates (and removes) stores of its own: open nothing here.
        return permit_ledger::bench::run_cli(args, &cli.store).await;
    }
    let config = cli.store.config();
    let store = open(&config).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let services = Services::build(
                store.clone(),
                cli.serve.settings(),
                &config.data_dir,
                cli.serve.sandbox_now,
            )
            .await?;
            let app = Application::build(services, cli.serve.bind).await?;
            let address = app.local_addr()?;
            match store.backend() {
                Backend::Sqlite => tracing::info!(
                    data = %sqlite_path(&config.data_dir).display(),
                    "embedded store"
                ),
                Backend::Postgres => tracing::info!("PostgreSQL store"),
            }
            tracing::info!(mode = ?cli.serve.mode, "serving on http://{address}");
            eprintln!("permit-ledger listening on http://{address}");
            app.run_until(shutdown_signal()).await?;
        }
        Command::Migrate => tracing::info!("migrations applied"),
        Command::Staff(command) => staff(store, command).await?,
        Command::Projections(command) => projections(store, command).await?,
        Command::Outbox(command) => outbox(store, command).await?,
        Command::Bench(_) => {}     // run above, before the store is opened
        Command::Audit(_) => {}     // run in main, before the store is opened
        Command::Reconcile(_) => {} // run in main, with exit codes of its own
    }
    Ok(())
}

fn cli_meta(command: &str) -> EventMetadata {
    EventMetadata {
        actor: Actor::System,
        role: Role::System,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        causation_id: format!("cli:{command}"),
        request_id: format!("cli-{}", uuid::Uuid::new_v4()),
    }
}

async fn staff(store: Store, command: StaffCommand) -> anyhow::Result<()> {
    let ledger = Ledger::new(store.log.clone());
    match command {
        StaffCommand::Add { roles, name, term } => {
            let roles = roles.into_iter().map(Into::into).collect();
            let meta = cli_meta("staff-add");
            let (staff_id, token) =
                staff::add_staff_for(&ledger, &store.db, name, roles, term.from_now(), &meta)
                    .await?;
            tracing::info!(%staff_id, "staff member added");
            println!("{token}");
        }
        StaffCommand::List { json } => {
            let list = staff::list_staff(&store.log, chrono::Utc::now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for m in list {
                    let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
                    println!(
                        "{}\t{}\t{}\t{}\texpires_at={}",
                        m.staff_id,
                        m.name,
                        roles.join(","),
                        m.status.as_str(),
                        m.expires_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                }
            }
        }
        StaffCommand::Revoke { id } => {
            let meta = cli_meta("staff-revoke");
            staff::revoke_staff(&ledger, &store.db, id, None, chrono::Utc::now(), &meta).await?;
            eprintln!("staff member {id} revoked: their token no longer works");
        }
        StaffCommand::Rotate { id, term } => {
            let meta = cli_meta("staff-rotate");
            let token = staff::rotate_staff(&ledger, &store.db, id, term.from_now(), &meta).await?;
            tracing::info!(staff_id = %id, "staff token rotated");
            println!("{token}");
        }
    }
    Ok(())
}

async fn outbox(store: Store, command: OutboxCommand) -> anyhow::Result<()> {
    match command {
        OutboxCommand::Failed { json } => {
            let list = given_up::list(&store.db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for w in list {
                    println!(
                        "{}\t{}\tattempts={}\t{}",
                        w.id,
                        w.kind,
                        w.attempts,
                        w.last_error.unwrap_or_default()
                    );
                }
            }
        }
        OutboxCommand::Resend { id, reason } => {
            if let Err(e) = given_up::resend(&store.db, &id, &reason).await {
                eprintln!("permit-ledger outbox resend: {e}");
                std::process::exit(match e {
                    given_up::ResendError::Store(_) => 1,
                    _ => 2,
                });
            }
            println!("{id} queued to be sent again");
        }
    }
    Ok(())
}

async fn projections(store: Store, command: ProjectionsCommand) -> anyhow::Result<()> {
    let read = ReadSide::new(store, projections::all());
    read.prepare().await?;
    match command {
        ProjectionsCommand::List { json } => {
            let list = read.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in list {
                    let status = match (p.status, p.failing_position) {
                        ("stalled", Some(at)) => format!(
                            "stalled at {at} ({} failures): {}",
                            p.failures,
                            p.last_error.as_deref().unwrap_or("")
                        ),
                        ("parked", _) => format!("parked {}", p.parked),
                        (status, _) => status.to_string(),
                    };
                    println!(
                        "{}\tversion={}\tposition={}\tlag={}\t{status}",
                        p.name, p.version, p.position, p.lag
                    );
                }
            }
        }
        ProjectionsCommand::Retry { name } => {
            read.request_retry(&name).await?;
            println!("{name}: asked to try again; `projections list` shows how it goes");
        }
        ProjectionsCommand::Skip {
            name,
            position,
            reason,
        } => {
            read.request_skip(&name, position, &reason).await?;
            println!(
                "{name}: asked to go past position {position}; `projections parked {name}` records it"
            );
        }
        ProjectionsCommand::Parked { name, json } => {
            let parked = read.parked(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&parked)?);
            } else {
                for e in parked {
                    println!(
                        "{}\tgeneration={}\tposition={}\t{}\t{}\tby {}\t{}",
                        e.name,
                        e.generation,
                        e.position,
                        e.event_type,
                        e.parked_at,
                        e.parked_by,
                        e.error
                    );
                }
            }
        }
        ProjectionsCommand::Rebuild { name } => {
            let before = read.generation(&name).await?;
            read.request_rebuild(&name).await?;
            // Run the runners here too: if no service holds the projection's lease, this
            // process does the rebuild; otherwise the service's runner does and this waits.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            read.spawn(stopped);
            while read.generation(&name).await? == before {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = stop.send(true);
            let info = read.list().await?;
            if let Some(p) = info.iter().find(|p| p.name == name) {
                println!(
                    "{}\tversion={}\tposition={}\tlag={}",
                    p.name, p.version, p.position, p.lag
                );
            }
        }
    }
    Ok(())
}
