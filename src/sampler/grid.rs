//! Grid search: the Cartesian product of every parameter's values.

use std::collections::BTreeMap;

use super::Sampler;
use crate::params::{ParamValue, Params};
use crate::space::Domain;

/// Enumerates the grid in a stable order: parameters sorted by name, the last
/// name varying fastest, each parameter's values in the order the spec lists them.
pub struct GridSampler {
    axes: Vec<(String, Vec<ParamValue>)>,
    len: usize,
}

impl GridSampler {
    /// Builds the grid; every domain must be a list (the spec validator ensures it).
    pub fn new(parameters: &BTreeMap<String, Domain>) -> Self {
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

    fn params(&self, index: usize) -> Params {
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
