//! The objectives a binary offers: `sweep` itself has the built-in ones, a
//! user's binary the ones it passes to [`crate::cli::main_with`].

use super::Objective;
use super::command::CommandObjective;
use super::mlp::MlpObjective;

/// An objective that cannot be offered as declared: a mistake in the binary's
/// own code, reported before any command runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("objective \"{name}\": {message}")]
pub struct CatalogError {
    /// The objective.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

/// The objectives of a binary, by name.
pub struct Catalog {
    objectives: Vec<Box<dyn Objective>>,
}

/// The objectives `sweep` has built in: the MLP (`objective = "mlp"`, the
/// default) and any program of the user's (`objective = "command"`).
pub fn builtin() -> Vec<Box<dyn Objective>> {
    vec![Box::new(MlpObjective::default()), Box::new(CommandObjective)]
}

impl Catalog {
    /// The objective `objective = ...` selects when a spec does not say.
    pub const DEFAULT: &'static str = "mlp";

    /// Checks each objective's declaration: a unique name usable in a spec, at
    /// least one task, and a parameter schema (and data-source options) whose
    /// defaults fit their own ranges.
    pub fn new(objectives: Vec<Box<dyn Objective>>) -> Result<Self, CatalogError> {
        for (i, o) in objectives.iter().enumerate() {
            let name = o.name();
            let fail = |message: String| CatalogError { name: name.to_string(), message };
            let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !name_ok {
                return Err(fail("expected letters, digits, '-', '_' or '.' in its name".into()));
            }
            if objectives[..i].iter().any(|earlier| earlier.name() == name) {
                return Err(fail("is offered twice; give each objective its own name".into()));
            }
            if o.tasks().is_empty() {
                return Err(fail("supports no task; return at least one from tasks()".into()));
            }
            o.schema().check().map_err(fail)?;
            if let Some(source) = o.data_source() {
                source.options().check().map_err(|e| fail(format!("data source option {e}")))?;
            }
        }
        if objectives.is_empty() {
            return Err(CatalogError { name: String::new(), message: "no objective at all was given".into() });
        }
        Ok(Catalog { objectives })
    }

    /// An objective by name.
    pub fn get(&self, name: &str) -> Option<&dyn Objective> {
        self.objectives.iter().find(|o| o.name() == name).map(|o| o.as_ref())
    }

    /// Every objective, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Objective> {
        self.objectives.iter().map(|o| o.as_ref())
    }

    /// The names, for "expected one of" messages.
    pub fn names(&self) -> String {
        self.objectives.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("objectives", &self.names()).finish()
    }
}
