//! `[select]`: what the picked model must meet, and `[metric] trade_off`:
//! what the monitored metric is traded against. Both name leaderboard
//! columns ([`crate::pick::columns`]).

use toml::Spanned;

use super::Ctx;
use crate::metrics::{Goal, Task};
use crate::pick::{Constraint, TradeOff};
use crate::spec::SpecError;
use crate::spec::raw::RawSpec;

/// `[select] constraints`: each `"<column> <op> <number>"` over a known column.
pub(super) fn validate_constraints(ctx: &Ctx, raw: &RawSpec, task: Task) -> Result<Vec<Constraint>, SpecError> {
    let Some(list) = raw.select.as_ref().and_then(|s| s.constraints.as_ref()) else {
        return Ok(Vec::new());
    };
    let columns = crate::pick::columns(task);
    let mut out = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let key = format!("select.constraints[{i}]");
        let c = Constraint::parse(text.get_ref()).map_err(|e| ctx.at(text, &key, e))?;
        if !columns.iter().any(|(name, _)| *name == c.column) {
            return Err(ctx.at(text, &key, unknown_column(&c.column, &columns)));
        }
        out.push(c);
    }
    Ok(out)
}

/// `[metric] trade_off`: column names (their goal from the metric table, or
/// the cost's), or `{ name = "...", goal = "minimize" }`; none may repeat
/// the monitored metric or another trade-off.
pub(super) fn validate_trade_off(
    ctx: &Ctx,
    raw: &RawSpec,
    task: Task,
    monitored: &str,
) -> Result<Vec<TradeOff>, SpecError> {
    let Some(list) = raw.metric.trade_off.as_ref() else {
        return Ok(Vec::new());
    };
    let columns = crate::pick::columns(task);
    let mut out: Vec<TradeOff> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let key = format!("metric.trade_off[{i}]");
        let (name, goal) = read_item(ctx, item, &key)?;
        let Some((_, known_goal)) = columns.iter().find(|(c, _)| *c == name) else {
            return Err(ctx.at(item, &key, unknown_column(&name, &columns)));
        };
        let bare = name.strip_prefix("best_").unwrap_or(&name);
        if bare == monitored {
            return Err(ctx.at(
                item,
                &key,
                format!("got \"{name}\", the monitored metric itself; expected another column"),
            ));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(ctx.at(item, &key, format!("got \"{name}\" twice; list each trade-off once")));
        }
        out.push(TradeOff { name, goal: goal.unwrap_or(*known_goal) });
    }
    Ok(out)
}

fn read_item(ctx: &Ctx, item: &Spanned<toml::Value>, key: &str) -> Result<(String, Option<Goal>), SpecError> {
    let expected = "expected a column name (\"params\") or { name = \"...\", goal = \"minimize\" | \"maximize\" }";
    match item.get_ref() {
        toml::Value::String(s) => Ok((s.clone(), None)),
        toml::Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| *k != "name" && *k != "goal") {
                return Err(ctx.at(item, key, format!("has an unknown key \"{k}\"; {expected}")));
            }
            let name = t
                .get("name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| ctx.at(item, key, format!("has no name; {expected}")))?;
            let goal = match t.get("goal").map(|g| g.as_str()) {
                None => None,
                Some(Some("minimize")) => Some(Goal::Minimize),
                Some(Some("maximize")) => Some(Goal::Maximize),
                Some(other) => {
                    let got = other.map_or_else(|| t["goal"].to_string(), |s| format!("\"{s}\""));
                    return Err(ctx.at(item, key, format!("has goal {got}; expected \"minimize\" or \"maximize\"")));
                }
            };
            Ok((name.to_string(), goal))
        }
        other => Err(ctx.at(item, key, format!("got {other}; {expected}"))),
    }
}

fn unknown_column(name: &str, columns: &[(String, Goal)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).filter(|c| !c.starts_with("best_")).collect();
    format!(
        "got \"{name}\", which is not a leaderboard column; expected a metric (as itself or best_<metric>), \
         a test metric or a cost: {}",
        names.join(", ")
    )
}
