//! `[command]`: the program a command objective runs for each trial.

use super::Ctx;
use crate::objective::command::{self, argv};
use crate::spec::raw::RawSpec;
use crate::spec::{CommandSpec, SpecError};

pub(super) fn validate_command(ctx: &Ctx, raw: &RawSpec, objective: &str) -> Result<Option<CommandSpec>, SpecError> {
    let Some(table) = &raw.command else {
        if objective == command::NAME {
            return Err(ctx.err(
                raw.objective.as_ref().map(|o| o.span()),
                "objective",
                "is \"command\", which needs a [command] table with argv = [\"python3\", \"train.py\", \"${args}\"] \
                 (or program = \"train.py\")",
            ));
        }
        return Ok(None);
    };
    if objective != command::NAME {
        return Err(ctx.at(
            table,
            "command",
            format!("is read only by objective = \"command\", and this spec trains objective \"{objective}\""),
        ));
    }
    let c = table.get_ref();
    let program = match &c.program {
        Some(p) if p.get_ref().trim().is_empty() => return Err(ctx.at(p, "command.program", "is empty")),
        Some(p) => Some(p.get_ref().clone()),
        None => None,
    };
    let argv = match (&c.argv, &program) {
        (Some(a), _) => {
            argv::check(a.get_ref(), program.is_some()).map_err(|m| ctx.at(a, "command.argv", m))?;
            a.get_ref().clone()
        }
        (None, Some(_)) => argv::WANDB_DEFAULT.iter().map(|s| s.to_string()).collect(),
        (None, None) => {
            return Err(ctx.at(
                table,
                "command",
                "has neither argv nor program; expected argv = [\"python3\", \"train.py\", \"${args}\"]",
            ));
        }
    };
    let predict = match &c.predict {
        Some(p) => {
            argv::check_predict(p.get_ref(), program.is_some()).map_err(|m| ctx.at(p, "command.predict", m))?;
            Some(p.get_ref().clone())
        }
        None => None,
    };
    let interpreter = match (&c.interpreter, &program) {
        (Some(i), _) => i.get_ref().trim().to_string(),
        (None, Some(p)) => argv::default_interpreter(p).to_string(),
        (None, None) => String::new(),
    };
    let cwd = match &c.cwd {
        Some(d) if d.get_ref().trim().is_empty() => return Err(ctx.at(d, "command.cwd", "is empty")),
        Some(d) => Some(d.get_ref().into()),
        None => None,
    };
    let mut env = std::collections::BTreeMap::new();
    for (key, value) in &c.env {
        let ok = !key.is_empty() && !key.contains('=') && !key.contains('\0') && !value.get_ref().contains('\0');
        if !ok {
            return Err(ctx.at(
                value,
                &format!("command.env.{key}"),
                "expected a variable name without '=' and a value",
            ));
        }
        if key.starts_with("SWEEP_") {
            return Err(ctx.at(
                value,
                &format!("command.env.{key}"),
                "names a variable sweep sets itself for each trial (SWEEP_...); choose another name",
            ));
        }
        env.insert(key.clone(), value.get_ref().clone());
    }
    let timeout = match &c.timeout {
        Some(t) if !(t.get_ref().is_finite() && *t.get_ref() > 0.0) => {
            return Err(ctx.at(t, "command.timeout", format!("got {}, expected seconds > 0", t.get_ref())));
        }
        Some(t) => Some(*t.get_ref()),
        None => None,
    };
    Ok(Some(CommandSpec { argv, program, interpreter, cwd, env, timeout, predict }))
}
