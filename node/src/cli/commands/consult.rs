//! `concord consult request`, `reply` and `list`: consultations between two
//! states about a denial, through the running node's API or the stopped
//! node's store.

use crate::cli::client::{Consultation, connect};
use crate::cli::exit::CliResult;
use crate::cli::{ConsultCommand, ConsultListArgs};
use crate::consultation::{
    ConsultationFilter, ConsultationView, NewReply, NewRequest, answer_name,
};
use crate::home::Home;
use crate::stdout::StdoutError;

use super::print_json;

/// # Errors
/// Exit 3 for a reference that names no denial (or no request) this node
/// holds, a revoked denial, one of this member's own state, a reply this
/// state may not give or gave already, an unknown answer; otherwise as
/// `publish` and `list`.
pub fn run(command: ConsultCommand, json: bool) -> CliResult {
    let (home, consultation, fork_risk) = match command {
        ConsultCommand::List(args) => return list(&args, json),
        ConsultCommand::Request(args) => (
            args.home.home,
            Consultation::Request(NewRequest {
                denial: args.denial,
                application_reference: args.application,
                question: args.question,
                items_summary: args.items_summary,
            }),
            args.fork_risk.fork_risk(),
        ),
        ConsultCommand::Reply(args) => (
            args.home.home,
            Consultation::Reply(NewReply {
                request: args.request,
                answer: args.answer,
                comment: args.comment,
            }),
            args.fork_risk.fork_risk(),
        ),
    };
    let connection = connect(&Home::new(&home))?;
    let published = connection.client().consult(&consultation, fork_risk)?;
    if json {
        print_json(&published)?;
    } else {
        let what = match consultation {
            Consultation::Request(_) => "consultation request",
            Consultation::Reply(_) => "consultation reply",
        };
        outln!(
            "published {what} {}#{} leaf {}",
            published.origin,
            published.index,
            published.leaf_hash
        )?;
    }
    Ok(())
}

fn list(args: &ConsultListArgs, json: bool) -> CliResult {
    let direction = match (args.incoming, args.outgoing) {
        (true, _) => Some("incoming".to_owned()),
        (_, true) => Some("outgoing".to_owned()),
        _ => None,
    };
    let filter = ConsultationFilter {
        direction,
        state: args.state.clone(),
    };
    let connection = connect(&Home::new(&args.home.home))?;
    let views = connection.client().consultations(&filter)?;
    if json {
        print_json(&views)?;
    } else {
        print_views(&views)?;
    }
    Ok(())
}

fn print_views(views: &[ConsultationView]) -> Result<(), StdoutError> {
    for view in views {
        outln!(
            "{}  {} -> {}  {:<8}  about {}  asked {}  application {}",
            view.request,
            view.requesting_state,
            view.denying_state,
            view.state.as_str(),
            view.denial,
            view.requested_at,
            view.application_reference
        )?;
        outln!("    question: {}", view.question)?;
        if let Some(reply) = &view.reply {
            outln!(
                "    answer:   {} ({}, {}): {}",
                answer_name(reply.answer),
                reply.entry,
                reply.replied_at,
                reply.comment
            )?;
        }
    }
    if views.is_empty() {
        outln!("no consultations")?;
    }
    Ok(())
}
