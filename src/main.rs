use aggregates::metadata::{Actor, EventMetadata, Role};
use clap::Parser;
use permit_ledger::app::staff::add_staff;
use permit_ledger::cli::{Cli, Command, StaffCommand};
use permit_ledger::ledger::Ledger;
use permit_ledger::startup::{shutdown_signal, Application};
use permit_ledger::store::{open, sqlite_path, Backend};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    permit_ledger::telemetry::init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.store.config();
    let store = open(&config).await?;
    if store.backend() == Backend::Sqlite {
        tracing::info!(file = %sqlite_path(&config.data_dir).display(), "embedded store");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(store, cli.serve.bind).await?;
            tracing::info!(address = %app.local_addr()?, "serving");
            app.run_until(shutdown_signal()).await?;
        }
        Command::Migrate => tracing::info!("migrations applied"),
        Command::Staff(StaffCommand::Add { roles, name }) => {
            let meta = EventMetadata {
                actor: Actor::System,
                role: Role::System,
                correlation_id: uuid::Uuid::new_v4().to_string(),
                causation_id: "cli:staff-add".into(),
                request_id: format!("cli-{}", uuid::Uuid::new_v4()),
            };
            let roles = roles.into_iter().map(Into::into).collect();
            let (staff_id, token) = add_staff(
                &Ledger::new(store.log.clone()),
                &store.db,
                name,
                roles,
                &meta,
            )
            .await?;
            tracing::info!(%staff_id, "staff member added");
            println!("{token}");
        }
    }
    Ok(())
}
