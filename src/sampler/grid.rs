//! Grid search: the Cartesian product of every parameter's values.

use std::collections::BTreeMap;

use super::{History, KeyError, Method, MethodConfig, MethodKeys, Registration, Sampler, StoredMethod};
use crate::params::{ParamValue, Params};
use crate::space::Domain;

pub(super) const REGISTRATION: Registration = Registration { name: "grid", parse, stored };

/// `method = "grid"`.
pub(crate) fn method() -> Method {
    Method::new(Grid)
}

#[derive(Debug)]
struct Grid;

impl MethodConfig for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn trials(&self) -> Option<usize> {
        None
    }

    fn sampler(&self, parameters: &BTreeMap<String, Domain>, _seed: u64) -> Box<dyn Sampler> {
        Box::new(GridSampler::new(parameters))
    }

    fn is_exhaustive(&self) -> bool {
        true
    }
}

fn parse(keys: &MethodKeys) -> Result<Method, KeyError> {
    if let Some(t) = keys.trials {
        return Err(KeyError::at(
            t,
            "trials",
            "is only used with method = \"random\", \"tpe\" or \"nsga2\"; a grid runs every combination",
        ));
    }
    for (key, domain) in keys.parameters {
        let error = |at: String, message: String| KeyError { span: (keys.parameter_span)(key), key: at, message };
        if let Domain::Categorical { .. } = domain {
            return Err(error(
                format!("parameters.{key}.probabilities"),
                "is not used by method = \"grid\", which tries every value once; remove it".into(),
            ));
        }
        if domain.grid_values().is_none() {
            return Err(error(
                format!("parameters.{key}"),
                format!("has distribution \"{}\", but method = \"grid\" needs a list: values = [...]", domain.kind()),
            ));
        }
    }
    Ok(method())
}

fn stored(_: &StoredMethod) -> Result<Method, String> {
    Ok(method())
}

/// Enumerates the grid in a stable order: parameters sorted by name, the last
/// name varying fastest, each parameter's values in the order the spec lists them.
pub(super) struct GridSampler {
    axes: Vec<(String, Vec<ParamValue>)>,
    len: usize,
}

impl GridSampler {
    /// Builds the grid; every domain must be a list (the spec validator ensures it).
    pub(super) fn new(parameters: &BTreeMap<String, Domain>) -> Self {
        let axes: Vec<(String, Vec<ParamValue>)> = parameters
            .iter()
            .map(|(k, d)| (k.clone(), d.grid_values().map(<[_]>::to_vec).unwrap_or_default()))
            .collect();
        let len = axes.iter().map(|(_, v)| v.len()).product();
        GridSampler { axes, len }
    }
}

impl Sampler for GridSampler {
    fn len(&self) -> usize {
        self.len
    }

    fn needs_history(&self) -> bool {
        false
    }

    fn propose(&self, index: usize, _: &History) -> Params {
        // Mixed-radix decoding of the index, last axis fastest: O(axes) per trial,
        // so a plan of a million points never materialises the product.
        let mut rest = index;
        let mut out = Params::new();
        for (name, values) in self.axes.iter().rev() {
            out.insert(name.clone(), values[rest % values.len()].clone());
            rest /= values.len();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};

    impl GridSampler {
        fn params(&self, index: usize) -> Params {
            self.propose(index, &History::empty(&Monitor::new("accuracy", Goal::Maximize, 0.0)))
        }
    }

    fn domain(values: &[i64]) -> Domain {
        Domain::Values { values: values.iter().map(|v| ParamValue::Int(*v)).collect() }
    }

    #[test]
    fn cartesian_product_in_stable_order() {
        let mut p = BTreeMap::new();
        p.insert("b".to_string(), domain(&[1, 2, 3]));
        p.insert("a".to_string(), domain(&[10, 20]));
        let g = GridSampler::new(&p);
        assert_eq!(g.len(), 6);
        let rows: Vec<(i64, i64)> = (0..6)
            .map(|i| {
                let ps = g.params(i);
                (ps["a"].as_i64().unwrap(), ps["b"].as_i64().unwrap())
            })
            .collect();
        assert_eq!(rows, vec![(10, 1), (10, 2), (10, 3), (20, 1), (20, 2), (20, 3)]);
    }

    #[test]
    fn no_parameters_is_one_trial() {
        let g = GridSampler::new(&BTreeMap::new());
        assert_eq!(g.len(), 1);
        assert!(g.params(0).is_empty());
    }
}
