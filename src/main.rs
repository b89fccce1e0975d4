use aggregates::metadata::{Actor, EventMetadata, Role};
use clap::Parser;
use permit_ledger::app::staff::add_staff;
use permit_ledger::cli::{Cli, Command, StaffCommand};
use permit_ledger::ledger::Ledger;
use permit_ledger::startup::{open_store, shutdown_signal, Application};
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
    let log = open_store(cli.store.database_url.as_deref(), cli.store.db_pool).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(log, cli.serve.bind).await?;
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
            let (staff_id, token) = add_staff(&Ledger::new(log), name, roles, &meta).await?;
            tracing::info!(%staff_id, "staff member added");
            println!("{token}");
        }
    }
    Ok(())
}
