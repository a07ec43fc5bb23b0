//! An objective that brings its own data: a folder of images, one subfolder
//! per class (`<folder>/<label>/*.pgm`, plain-text PGM), named in the spec's
//! `[data] folder = "..."`. It trains the built-in MLP on the pixels, so this
//! file is only the data source; the split, metrics, checkpoints, `predict
//! --split valid` and `verify` come from sweep.
//!
//! ```sh
//! cargo run --release --example image_folder -- run my_images.toml
//! ```

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use sha2::{Digest, Sha256};
use sweep::objective::mlp::MlpObjective;
use sweep::prelude::*;

/// Reads `<folder>/<label>/*.pgm`: every image must have the same size.
struct PgmFolder;

impl DataSource for PgmFolder {
    fn options(&self) -> Schema {
        Schema::empty().param(ParamDef::text("folder", "", "a folder with one subfolder of .pgm images per class"))
    }

    fn load(&self, options: &ResolvedParams) -> Result<Table, SourceError> {
        let folder = PathBuf::from(options.str("folder").map_err(|e| SourceError::new("[data]", e.to_string()))?);
        if folder.as_os_str().is_empty() {
            return Err(SourceError::new("[data]", "folder is not set: add folder = \"<a folder of class folders>\""));
        }
        let (mut x, mut labels, mut size, mut hash) = (Vec::new(), Vec::new(), None, Sha256::new());
        for (label, file) in images(&folder)? {
            let bytes = std::fs::read(&file).map_err(|e| SourceError::new(&file, e.to_string()))?;
            let (shape, pixels) = parse_pgm(&bytes).map_err(|m| SourceError::new(&file, m))?;
            let first = *size.get_or_insert(shape);
            if first != shape {
                let message =
                    format!("is {}x{} pixels, but the first image is {}x{}", shape.0, shape.1, first.0, first.1);
                return Err(SourceError::new(&file, message));
            }
            hash.update(file.strip_prefix(&folder).unwrap_or(&file).to_string_lossy().as_bytes());
            hash.update(&bytes);
            x.extend(pixels);
            labels.push(label);
        }
        let (w, h) = size.ok_or_else(|| SourceError::new(&folder, "holds no .pgm image in class folders"))?;
        Ok(Table {
            path: folder,
            fingerprint: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            target: "label".into(),
            features: (0..w * h).map(|i| format!("px{i}")).collect(),
            x,
            targets: TargetColumn::Text(labels),
            lines: Vec::new(),
        })
    }
}

/// (label, file) of every image, sorted, so the same folder always gives the same rows.
fn images(folder: &Path) -> Result<Vec<(String, PathBuf)>, SourceError> {
    let list = |dir: &Path| -> Result<Vec<PathBuf>, SourceError> {
        let entries = std::fs::read_dir(dir).map_err(|e| SourceError::new(dir, e.to_string()))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        Ok(paths)
    };
    let mut out = Vec::new();
    for class in list(folder)?.into_iter().filter(|p| p.is_dir()) {
        let label = class.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for file in list(&class)?.into_iter().filter(|p| p.extension().is_some_and(|e| e == "pgm")) {
            out.push((label.clone(), file));
        }
    }
    Ok(out)
}

/// A plain-text PGM (`P2`, width, height, max value, then the pixels), scaled to [0, 1].
fn parse_pgm(bytes: &[u8]) -> Result<((usize, usize), Vec<f64>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not a plain-text PGM (P2) file".to_string())?;
    let mut words = text.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(str::split_whitespace);
    if words.next() != Some("P2") {
        return Err("is not a plain-text PGM: it does not start with P2".into());
    }
    let mut number = |what: &str| -> Result<f64, String> {
        let w = words.next().ok_or_else(|| format!("ends before its {what}"))?;
        w.parse().map_err(|_| format!("has \"{w}\" where its {what} should be"))
    };
    let (w, h, max) = (number("width")? as usize, number("height")? as usize, number("maximum")?);
    let pixels = (0..w * h).map(|_| number("pixels").map(|v| v / max.max(1.0))).collect::<Result<_, _>>()?;
    Ok(((w, h), pixels))
}

/// The built-in MLP on the images' pixels.
struct ImageMlp {
    mlp: MlpObjective,
    source: PgmFolder,
}

impl Objective for ImageMlp {
    fn name(&self) -> &str {
        "image_mlp"
    }
    fn description(&self) -> &str {
        "the built-in MLP on a folder of .pgm images, one subfolder per class"
    }
    fn schema(&self) -> Schema {
        self.mlp.schema()
    }
    fn data_source(&self) -> Option<&dyn DataSource> {
        Some(&self.source)
    }
    fn devices(&self) -> &[Backend] {
        self.mlp.devices()
    }
    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
        self.mlp.start(trial)
    }
    fn load(
        &self,
        bytes: &[u8],
        params: &ResolvedParams,
        shape: DataShape,
        device: &Device,
    ) -> Result<Box<dyn Model>, TrialError> {
        self.mlp.load(bytes, params, shape, device)
    }
    fn cost_hint(&self, params: &ResolvedParams, data: &Prepared) -> f64 {
        self.mlp.cost_hint(params, data)
    }
    fn serving_key(&self, params: &ResolvedParams, shape: DataShape) -> Option<String> {
        self.mlp.serving_key(params, shape)
    }
}

fn main() -> std::process::ExitCode {
    sweep::cli::main_with(vec![Box::new(ImageMlp { mlp: MlpObjective::default(), source: PgmFolder })])
}
