//! `orca gen [--check]`: nix/generated/*.json from configs/*.hcl.

use super::GenArgs;
use crate::error::Exit;
use crate::nix::generate;

pub fn run(a: GenArgs) -> anyhow::Result<u8> {
    let root = crate::paths::project_root();
    let plan = crate::plan::load_project(&root)?;
    let files = generate::render(&plan)?;
    if a.check {
        let stale = generate::check(&root, &files)?;
        if stale.is_empty() {
            crate::ui::status(format!("{} is in sync with the specs", generate::GENERATED_DIR));
            return Ok(Exit::Ok.code());
        }
        for s in &stale {
            print!("{}", s.diff);
        }
        let names: Vec<String> = stale.iter().map(|s| s.path.display().to_string()).collect();
        crate::ui::status(format!(
            "stale: {} (run `orca gen` and commit the result)",
            names.join(", ")
        ));
        return Ok(Exit::TestFailed.code());
    }
    let changed = generate::write(&root, &files)?;
    if changed.is_empty() {
        crate::ui::status(format!("{} already up to date", generate::GENERATED_DIR));
    }
    for p in changed {
        crate::ui::status(format!("wrote {}", p.display()));
    }
    Ok(Exit::Ok.code())
}
