//! `orca init`: write the starter project, then say what to run next.

use anyhow::Result;

use super::InitArgs;
use crate::ui;

pub fn run(a: InitArgs) -> Result<u8> {
    let w = crate::init::write(&a.dir)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&w)?);
        return Ok(0);
    }
    for f in &w.written {
        ui::status(format!("wrote    {f}"));
    }
    for f in &w.skipped {
        ui::status(format!("skipped  {f} (exists; left as it was)"));
    }
    let cd = if a.dir == std::path::Path::new(".") {
        String::new()
    } else {
        format!("  cd {}\n", a.dir.display())
    };
    println!(
        "{} files written, {} skipped in {}. Next:\n{cd}  orca validate\n  orca build\n  orca test\n  orca matrix run\n  orca pipeline run\n\
         Edit the `orca` input of flake.nix before `nix develop`.",
        w.written.len(),
        w.skipped.len(),
        w.dir.display()
    );
    Ok(0)
}
