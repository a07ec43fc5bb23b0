//! `[metric]`: what is monitored, and which way is better.

use super::{Ctx, Expect};
use crate::metrics::{Goal, Monitor, Task};
use crate::spec::SpecError;
use crate::spec::raw::RawSpec;

/// `reported`: the objective's program reports metrics of its own, so a
/// name outside the table is accepted with an explicit goal.
pub(super) fn validate_metric(ctx: &Ctx, raw: &RawSpec, task: Task, reported: bool) -> Result<Monitor, SpecError> {
    let name = raw.metric.name.get_ref().clone();
    let explicit = match raw.metric.goal.as_ref().map(|g| g.get_ref().as_str()) {
        Some("maximize") => Some(Goal::Maximize),
        Some("minimize") => Some(Goal::Minimize),
        _ => None,
    };
    let def_goal = match (task.metric(&name), explicit) {
        (Some(def), _) => Some(def.goal),
        (None, Some(goal)) if reported => Some(goal),
        (None, None) if reported => {
            return Err(ctx.at(
                &raw.metric.name,
                "metric.name",
                format!(
                    "got \"{name}\", which is not one of sweep's metrics ({}), so no goal follows from it; \
                     set metric.goal = \"maximize\" or \"minimize\"",
                    task.metric_names().join(", ")
                ),
            ));
        }
        _ => None,
    };
    let Some(def_goal) = def_goal else {
        let names = task.metric_names();
        return Err(ctx.at(
            &raw.metric.name,
            "metric.name",
            format!(
                "got \"{name}\", expected one of {} (the metrics of task = \"{}\")",
                names.join(", "),
                task.as_str()
            ),
        ));
    };
    let goal = match raw.metric.goal.as_ref().map(|g| (g, g.get_ref().as_str())) {
        None | Some((_, "auto")) => def_goal,
        Some((_, "maximize")) => Goal::Maximize,
        Some((_, "minimize")) => Goal::Minimize,
        Some((g, other)) => {
            return Err(ctx.at(
                g,
                "metric.goal",
                format!("got \"{other}\", expected \"maximize\", \"minimize\" or \"auto\""),
            ));
        }
    };
    let min_delta =
        ctx.check_opt(raw.metric.min_delta.as_ref(), "metric.min_delta", &Expect::non_negative())?.unwrap_or(0.0);
    Ok(Monitor { metric: name, goal, min_delta })
}
