//! `cargo xtask bench`: placeholder until the benchmark harness lands (owned by the bench work).

pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!(
        "`cargo xtask bench` is not implemented yet: the benchmark harness (bench/) has not landed"
    )
}
